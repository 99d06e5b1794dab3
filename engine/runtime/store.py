"""The run store: SQLite in WAL mode, the single source of truth shared by the UI, workers and CLI.

Every process opens its own `Store` on the same file, and every thread its own connection (`Store.db`): a
transaction belongs to a connection, so two threads' transactions never interleave. A transaction that spans
several statements is `with store.transaction():` (BEGIN IMMEDIATE: the write lock first, so it never fails half way
for a writer that came between), and nothing slow happens inside one (Branch copies its file before). Keep callers
on this small interface so a server database can replace SQLite when a demo outgrows one machine.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class Status(StrEnum):
    """A run's status, each spelled here once; stored as its value (so a database written before reads the same)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)
TRAINING = (Status.RUNNING, Status.PAUSED)  # a worker holds the run
FINISHED = (Status.DONE, Status.STOPPED, Status.FAILED)
HISTORY = ("resumed", "branched")  # the events that say what happened to a run: a detail with a "message"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lab TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,
    heartbeat REAL,
    pid INTEGER,
    owner TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_status_id ON runs (status, id);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, status);
CREATE INDEX IF NOT EXISTS runs_lab ON runs (lab, id);
CREATE TABLE IF NOT EXISTS metrics (
    run INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run, name, step);
CREATE TABLE IF NOT EXISTS snapshots (
    run INTEGER NOT NULL, name TEXT NOT NULL, step INTEGER NOT NULL, blob BLOB NOT NULL,
    PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS controls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run INTEGER NOT NULL, payload TEXT NOT NULL,
    sent REAL NOT NULL, applied REAL
);
CREATE TABLE IF NOT EXISTS events (
    run INTEGER NOT NULL, step INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run);
CREATE INDEX IF NOT EXISTS controls_run ON controls (run, applied);
"""


# columns added since the first schema: (name, declaration), added to an older database when it opens
LATER_COLUMNS = (
    ("batch", "INTEGER"),  # the first run of the sweep this run belongs to (a sweep counts as one submission)
    ("polled", "REAL"),  # when the trainer last polled: liveness that follows its progress, not only a thread
    ("paused_at", "REAL"),  # when it was last paused (a paused run holds no slot, and not forever)
    ("resume_wanted", "REAL"),  # a resume asked for while every slot was busy: granted first when one frees
    ("stop_requested", "REAL"),  # when a stop was sent: its process group is ended after a grace period
    ("note", "TEXT NOT NULL DEFAULT ''"),  # why it ended when something other than its trainer ended it
    ("node", "TEXT NOT NULL DEFAULT ''"),  # where its worker runs (a launcher's word: a pid, a Ray node)
    ("parent", "INTEGER"),  # the run it was branched from
    ("checkpoint_step", "INTEGER"),  # the step its checkpoint resumes from; NULL: it has none to resume from
    ("recoveries", "INTEGER NOT NULL DEFAULT 0"),  # automatic resumes (a restart, a lost node) since its last progress
    ("checkpoint_metric", "INTEGER"),  # the last metric row stored before its checkpoint: a resume keeps those up to it
    ("client", "TEXT NOT NULL DEFAULT ''"),  # the address its owner came from (the hosted limits count by it too)
)


def default_data_dir() -> Path:
    return Path(os.environ.get("DREAMLAB_DATA", Path.home() / ".dreamlab")).expanduser()


@dataclass(frozen=True)
class Run:
    id: int
    lab: str
    config: dict[str, Any]
    status: Status
    stage: str
    progress: float
    created: float
    updated: float
    started: float | None
    heartbeat: float | None
    pid: int | None
    owner: str
    error: str
    summary: dict[str, Any]
    batch: int | None
    polled: float | None
    paused_at: float | None
    resume_wanted: float | None
    stop_requested: float | None
    note: str
    node: str
    parent: int | None
    checkpoint_step: int | None
    recoveries: int
    checkpoint_metric: int | None
    client: str

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def parked(self) -> bool:
        """Paused with no worker: it gave its memory back, and Resume starts one again from its checkpoint."""
        return self.status == Status.PAUSED and self.heartbeat is None

    @property
    def eta_seconds(self) -> float | None:
        """Linear extrapolation of elapsed time over progress; None until there is something to go on."""
        if self.status != Status.RUNNING or not self.started or self.progress <= 0.02:
            return None
        elapsed = self.updated - self.started
        return elapsed * (1 - self.progress) / self.progress


def params_now(config: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's config with every live change it applied, in order: the values it trains with now."""
    params = dict(config)
    for event in events:
        if event["kind"] == "set":
            params.update(event["detail"])
    return params


def pack_arrays(data: np.ndarray | dict[str, np.ndarray]) -> bytes:
    arrays = data if isinstance(data, dict) else {"value": data}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    return buffer.getvalue()


def unpack_arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


class Store:
    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_dir.mkdir(exist_ok=True)
        self.path = self.data_dir / "dreamlab.sqlite3"
        self._local = threading.local()  # each thread's own connection
        self.db.execute("PRAGMA journal_mode=WAL")  # kept in the file: every connection to it, in every process
        self.db.executescript(SCHEMA)
        present = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
        for name, declaration in LATER_COLUMNS:
            if name not in present:
                try:
                    self.db.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")
                except sqlite3.OperationalError as error:  # another process added it a moment ago
                    if "duplicate column" not in str(error):
                        raise
        self.columns = [row[1] for row in self.db.execute("PRAGMA table_info(runs)")]

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (opened at its first use; closed when the thread ends, or by `close`). In
        autocommit mode; a busy timeout rides over the short write locks of other connections."""
        connection = getattr(self._local, "db", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.db = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements that land together or not at all, on this thread's connection (inside another transaction of
        this thread's: part of that one)."""
        db = self.db
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # also when COMMIT itself failed (a full disk)
                db.execute("ROLLBACK")
            raise

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    def close(self) -> None:
        """Close this thread's connection (another thread's closes with its thread)."""
        connection = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            self._local.db = None

    # runs -------------------------------------------------------------------------------------

    def create_runs(self, lab: str, configs: list[dict[str, Any]], owner: str = "", client: str = "") -> list[int]:
        """Queue runs in one transaction; more than one form a batch (a sweep), counted as one submission."""
        now = time.time()
        ids: list[int] = []
        with self.transaction() as db:
            for config in configs:
                cursor = db.execute(
                    "INSERT INTO runs (lab, config, status, created, updated, owner, batch, client) "
                    "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (lab, json.dumps(config), now, now, owner, ids[0] if ids else None, client),
                )
                ids.append(int(cursor.lastrowid))
            if len(ids) > 1:
                db.execute("UPDATE runs SET batch=? WHERE id=?", (ids[0], ids[0]))
        return ids

    def create_run(self, lab: str, config: dict[str, Any], owner: str = "") -> int:
        return self.create_runs(lab, [config], owner)[0]

    def create_branch(self, parent: Run, config: dict[str, Any], owner: str, client: str = "") -> int:
        """Queue a run that starts from `parent`'s checkpoint, with the parent's metrics and snapshots up to it, in
        one transaction: no scheduler can start it before it holds its checkpoint. Under the store's write lock the
        parent's file and its recorded step agree (Store.replace_checkpoint renames under it too), and the child's
        file is a hard link to the parent's: instant, no copy held inside the transaction."""
        from engine.params import ConfigError
        from engine.runtime.checkpoints import share_checkpoint

        now = time.time()
        with self.transaction() as db:
            step, metric = db.execute(
                "SELECT checkpoint_step, checkpoint_metric FROM runs WHERE id=?", (parent.id,)
            ).fetchone() or (None, None)
            if step is None:
                raise ConfigError(f"run {parent.id} has no checkpoint to branch from")
            child = int(
                db.execute(
                    "INSERT INTO runs (lab, config, status, created, updated, owner, client, parent, checkpoint_step, "
                    "stage) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        parent.lab,
                        json.dumps(config),
                        now,
                        now,
                        owner,
                        client,
                        parent.id,
                        step,
                        f"branched at step {step}",
                    ),
                ).lastrowid
            )
            db.execute(
                "INSERT INTO metrics (run, step, name, value) SELECT ?, step, name, value FROM metrics "
                "WHERE run=? AND rowid<=? ORDER BY rowid",
                (child, parent.id, metric),
            )
            db.execute(
                "UPDATE runs SET checkpoint_metric=(SELECT COALESCE(MAX(rowid), 0) FROM metrics WHERE run=?) "
                "WHERE id=?",
                (child, child),
            )
            db.execute(
                "INSERT INTO snapshots (run, name, step, blob) SELECT ?, name, step, blob FROM snapshots "
                "WHERE run=? AND step<=?",
                (child, parent.id, step),
            )
            self.checkpoint_path(child).unlink(missing_ok=True)  # a file left by a run whose id was rolled back
            share_checkpoint(self.checkpoint_path(parent.id), self.checkpoint_path(child))
        return child

    def requeue(self, run: Run, stage: str, automatic: bool) -> bool:
        """Queue a finished or orphaned run again, to resume from its checkpoint — or from scratch when it has none
        to resume from. Metrics logged after the checkpoint go (from scratch: all, and the snapshots), and so do
        controls never applied. Only the incarnation seen is requeued (its status and start): of two schedulers
        that notice one dead worker, one requeues it."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status='queued', pid=NULL, heartbeat=NULL, polled=NULL, paused_at=NULL, "
                "resume_wanted=NULL, stop_requested=NULL, error='', note='', node='', stage=?, updated=?, "
                "progress=CASE WHEN checkpoint_step IS NULL THEN 0 ELSE progress END, recoveries=recoveries+? "
                "WHERE id=? AND status=? AND started IS ?",
                (stage, time.time(), int(automatic), run.id, run.status, run.started),
            )
            if cursor.rowcount != 1:
                return False
            if run.checkpoint_step is None:
                db.execute("DELETE FROM metrics WHERE run=?", (run.id,))
                db.execute("DELETE FROM snapshots WHERE run=?", (run.id,))
            else:
                # by row, not by step: a lab's series may count their steps apart (World Models: V epochs, M
                # updates, CMA-ES generations), so only the order of logging says what came after the checkpoint
                db.execute("DELETE FROM metrics WHERE run=? AND rowid>?", (run.id, run.checkpoint_metric))
            db.execute("DELETE FROM controls WHERE run=? AND applied IS NULL", (run.id,))
        return True

    def _run(self, row: tuple) -> Run:
        values = dict(zip(self.columns, row, strict=True))
        values["config"], values["summary"] = json.loads(values["config"]), json.loads(values["summary"])
        values["status"] = Status(values["status"])
        return Run(**values)

    def get_run(self, run_id: int) -> Run | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._run(row) if row else None

    def list_runs(
        self,
        lab: str | None = None,
        statuses: tuple[str, ...] | None = None,
        owner: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        linked: tuple[str, int] | None = None,
    ) -> list[Run]:
        """Runs, newest first; `limit` and `offset` page through them (a page of 10,000 runs reads only its own);
        `linked` (a config key, a run id): the runs whose config names that run there (a sweep's jobs)."""
        where, args = self._where(lab, statuses, owner)
        if linked:
            where += f"{' AND' if where else ' WHERE'} json_extract(config, '$.' || ?) = ?"
            args += list(linked)
        page = " LIMIT ? OFFSET ?" if limit is not None else ""
        args += [limit, offset] if limit is not None else []
        return [self._run(row) for row in self.db.execute(f"SELECT * FROM runs{where} ORDER BY id DESC{page}", args)]

    def count_runs(
        self, lab: str | None = None, statuses: tuple[str, ...] | None = None, owner: str | None = None
    ) -> int:
        where, args = self._where(lab, statuses, owner)
        return self.db.execute(f"SELECT COUNT(*) FROM runs{where}", args).fetchone()[0]

    @staticmethod
    def _where(lab: str | None, statuses: tuple[str, ...] | None, owner: str | None) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if owner is not None:
            clauses.append("owner = ?")
            args.append(owner)
        if lab:
            clauses.append("lab = ?")
            args.append(lab)
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args

    def active_submissions(self, owner: str | None = None, client: str | None = None) -> int:
        """Active submissions (a batch is one) of an owner, or of every owner at a client address."""
        column, value = ("owner", owner) if owner is not None else ("client", client)
        return self.db.execute(
            f"SELECT COUNT(DISTINCT COALESCE(batch, id)) FROM runs WHERE {column}=? AND status IN "
            f"({','.join('?' * len(ACTIVE))})",
            (value, *ACTIVE),
        ).fetchone()[0]

    def disk_mb(self, owner: str) -> float:
        """What an owner's runs keep on the disk: their checkpoint files and snapshots."""
        ids = [row[0] for row in self.db.execute("SELECT id FROM runs WHERE owner=?", (owner,))]
        paths = [self.checkpoint_path(run_id) for run_id in ids]
        files = sum(path.stat().st_size for path in paths if path.exists())
        blobs = self.db.execute(
            "SELECT COALESCE(SUM(LENGTH(blob)), 0) FROM snapshots WHERE run IN (SELECT id FROM runs WHERE owner=?)",
            (owner,),
        ).fetchone()[0]
        return (files + blobs) / 2**20

    def expire(self, before: float, note: str) -> list[int]:
        """Retention: finished runs last updated before `before` lose their checkpoint and snapshots (they can be
        neither resumed nor branched after) and keep their metrics, so their charts stay; the runs it expired."""
        with self.transaction() as db:
            ids = [
                run_id
                for run_id, kept in db.execute(
                    f"SELECT id, checkpoint_step IS NOT NULL OR id IN (SELECT run FROM snapshots) FROM runs "
                    f"WHERE status IN ({','.join('?' * len(FINISHED))}) AND updated<?",
                    (*FINISHED, before),
                )
                if kept or self.checkpoint_path(run_id).exists()
            ]
            for run_id in ids:
                db.execute("DELETE FROM snapshots WHERE run=?", (run_id,))
                db.execute(
                    "UPDATE runs SET checkpoint_step=NULL, note=CASE WHEN note='' THEN ? ELSE note || '; ' || ? END "
                    "WHERE id=?",
                    (note, note, run_id),
                )
        for run_id in ids:
            self.checkpoint_path(run_id).unlink(missing_ok=True)
        return ids

    def last_served(self) -> dict[str, float]:
        """owner → when their latest run started: fair dispatch serves whoever waited longest."""
        return dict(self.db.execute("SELECT owner, MAX(started) FROM runs WHERE started IS NOT NULL GROUP BY owner"))

    def claim(self, run_id: int, pid: int) -> bool:
        """queued → running for exactly one dispatcher, even when several managers share the store."""
        now = time.time()
        cursor = self.db.execute(
            "UPDATE runs SET status='running', pid=?, started=?, heartbeat=?, updated=? WHERE id=? AND status='queued'",
            (pid, now, now, now, run_id),
        )
        return cursor.rowcount == 1

    def set_pid(self, run_id: int, pid: int) -> None:
        self.db.execute("UPDATE runs SET pid=? WHERE id=?", (pid, run_id))

    def set_node(self, run_id: int, node: str) -> None:
        self.db.execute("UPDATE runs SET node=? WHERE id=?", (node, run_id))

    def set_paused(self, run_id: int, paused: bool) -> bool:
        """running ⇄ paused; never revives a run that something else has already finished."""
        cursor = self.db.execute(
            "UPDATE runs SET status=?, paused_at=CASE WHEN ? THEN ? ELSE paused_at END, resume_wanted=NULL, "
            "updated=? WHERE id=? AND status IN ('running', 'paused')",
            (Status.PAUSED if paused else Status.RUNNING, paused, time.time(), time.time(), run_id),
        )
        return cursor.rowcount == 1

    def park(self, run_id: int) -> None:
        """Its worker has gone to give its memory back: the run stays paused (or, when a resume came meanwhile,
        paused and waiting for a slot), with no heartbeat: no worker to watch."""
        now = time.time()
        self.db.execute(
            "UPDATE runs SET resume_wanted=CASE WHEN status='running' THEN COALESCE(resume_wanted, ?) ELSE "
            "resume_wanted END, status='paused', heartbeat=NULL, polled=NULL, stage='paused (its memory given back)', "
            "updated=? WHERE id=? AND status IN ('running', 'paused')",
            (now, now, run_id),
        )

    def want_resume(self, run_id: int) -> None:
        self.db.execute(
            "UPDATE runs SET resume_wanted=COALESCE(resume_wanted, ?) WHERE id=? AND status='paused'",
            (time.time(), run_id),
        )

    def request_stop(self, run_id: int, note: str = "") -> None:
        """Remember when a stop was sent (and why, when the trainer did not choose it)."""
        self.db.execute(
            "UPDATE runs SET stop_requested=COALESCE(stop_requested, ?), note=CASE WHEN ?='' THEN note ELSE ? END "
            "WHERE id=?",
            (time.time(), note, note, run_id),
        )

    def finish(self, run_id: int, status: Status, error: str = "", summary: dict | None = None, note: str = "") -> bool:
        """Mark an active run finished; False if something else already finished it."""
        assert status in FINISHED, status
        cursor = self.db.execute(
            f"UPDATE runs SET status=?, error=?, summary=COALESCE(?, summary), updated=?, "
            f"note=CASE WHEN ?='' THEN note ELSE ? END "
            f"WHERE id=? AND status IN ({','.join('?' * len(ACTIVE))})",
            (
                status,
                error,
                json.dumps(summary) if summary is not None else None,
                time.time(),
                note,
                note,
                run_id,
                *ACTIVE,
            ),
        )
        return cursor.rowcount == 1

    def beat(
        self, run_id: int, progress: float | None = None, stage: str | None = None, polled: float | None = None
    ) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE runs SET heartbeat=?, updated=?, progress=COALESCE(?, progress), stage=COALESCE(?, stage), "
            "polled=COALESCE(?, polled) WHERE id=?",
            (now, now, progress, stage, polled, run_id),
        )

    def delete_run(self, run_id: int) -> None:
        with self.transaction() as db:
            for table in ("metrics", "snapshots", "controls", "events"):
                db.execute(f"DELETE FROM {table} WHERE run = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self.checkpoint_path(run_id).unlink(missing_ok=True)
        self.log_path(run_id).unlink(missing_ok=True)

    # metrics, snapshots, events -----------------------------------------------------------------

    def last_step(self, run_id: int) -> int:
        """The last step the run logged a metric at (0 before any)."""
        return self.db.execute("SELECT COALESCE(MAX(step), 0) FROM metrics WHERE run=?", (run_id,)).fetchone()[0]

    def add_metrics(self, rows: list[tuple[int, int, str, float]]) -> None:
        if rows:
            with self.transaction() as db:
                db.executemany("INSERT INTO metrics (run, step, name, value) VALUES (?, ?, ?, ?)", rows)

    def metrics(self, run_id: int, names: list[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name → (steps, values), in step order."""
        query, args = "SELECT name, step, value FROM metrics WHERE run = ?", [run_id]
        if names:
            query += f" AND name IN ({','.join('?' * len(names))})"
            args.extend(names)
        series: dict[str, list[tuple[int, float]]] = {}
        for name, step, value in self.db.execute(query + " ORDER BY name, step, rowid", args):
            series.setdefault(name, []).append((step, value))
        return {name: (np.array([s for s, _ in pts]), np.array([v for _, v in pts])) for name, pts in series.items()}

    def metrics_csv(self, run_id: int) -> str:
        """step,name,value rows: what `export` writes and the Runs page offers for download."""
        lines = ["step,name,value"]
        for name, step, value in self.db.execute(
            "SELECT name, step, value FROM metrics WHERE run = ? ORDER BY name, step, rowid", (run_id,)
        ):
            lines.append(f"{step},{name},{value!r}")
        return "\n".join(lines) + "\n"

    def put_snapshot(self, run_id: int, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO snapshots (run, name, step, blob) VALUES (?, ?, ?, ?)",
            (run_id, name, step, pack_arrays(data)),
        )

    def snapshot(self, run_id: int, name: str) -> tuple[int, dict[str, np.ndarray]] | None:
        row = self.db.execute("SELECT step, blob FROM snapshots WHERE run=? AND name=?", (run_id, name)).fetchone()
        return (row[0], unpack_arrays(row[1])) if row else None

    def snapshot_step(self, run_id: int, name: str) -> int | None:
        """The step of the run's `name` snapshot, without reading the snapshot (None: there is none yet)."""
        row = self.db.execute("SELECT step FROM snapshots WHERE run=? AND name=?", (run_id, name)).fetchone()
        return row[0] if row else None

    def add_event(self, run_id: int, step: int, kind: str, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO events (run, step, time, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (run_id, step, time.time(), kind, json.dumps(detail)),
        )

    def events(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT step, time, kind, detail FROM events WHERE run=? ORDER BY rowid", (run_id,))
        return [{"step": s, "time": t, "kind": k, "detail": json.loads(d)} for s, t, k, d in rows]

    def histories(self, runs: list[int] | None = None) -> dict[int, list[str]]:
        """run → what happened to it beyond training, in order ("interrupted by a restart at step 120; resumed …"):
        of every run, or of `runs` (a page's)."""
        found: dict[int, list[str]] = {}
        only = f" AND run IN ({','.join('?' * len(runs))})" if runs is not None else ""
        for run_id, detail in self.db.execute(
            f"SELECT run, detail FROM events WHERE kind IN ({','.join('?' * len(HISTORY))}){only} ORDER BY rowid",
            (*HISTORY, *(runs or ())),
        ):
            found.setdefault(run_id, []).append(json.loads(detail)["message"])
        return found

    # controls: the UI/CLI writes, the worker applies ---------------------------------------------

    def send_control(self, run_id: int, payload: dict[str, Any]) -> int:
        cursor = self.db.execute(
            "INSERT INTO controls (run, payload, sent) VALUES (?, ?, ?)", (run_id, json.dumps(payload), time.time())
        )
        return int(cursor.lastrowid)

    def pending_controls(self, run_id: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT seq, payload FROM controls WHERE run=? AND applied IS NULL ORDER BY seq", (run_id,)
        )
        return [(seq, json.loads(payload)) for seq, payload in rows]

    def mark_applied(self, seq: int) -> None:
        self.db.execute("UPDATE controls SET applied=? WHERE seq=?", (time.time(), seq))

    # checkpoints ---------------------------------------------------------------------------------

    def checkpoint_path(self, run_id: int) -> Path:
        return self.checkpoint_dir / f"run-{run_id}.pt"

    def save_run_checkpoint(self, run_id: int, state: dict[str, Any]) -> None:
        """A worker's checkpoint, written atomically (what a worker's context calls, here or through Ray)."""
        import torch  # only where checkpoints are made

        self.replace_checkpoint(run_id, state.get("resume", {}).get("step"), lambda file: torch.save(state, file))

    def replace_checkpoint(self, run_id: int, step: int | None, write: Callable[[BinaryIO], Any]) -> None:
        """`write(file)` to a temporary file, flushed to the disk; then, in one transaction, renamed into place and
        its step recorded: whoever reads both under the store's lock finds them agreeing. A failed write (a full
        disk) leaves the last checkpoint, its record and no temporary file."""
        from engine.runtime.checkpoints import fsync_folder, write_synced

        path = self.checkpoint_path(run_id)
        temporary = path.with_name(path.name + ".tmp")
        write_synced(temporary, write)
        try:
            with self.transaction():
                os.replace(temporary, path)
                self.set_checkpoint_step(run_id, step)
        finally:
            temporary.unlink(missing_ok=True)
        fsync_folder(path.parent)

    def set_checkpoint_step(self, run_id: int, step: int | None) -> None:
        """The step the run's checkpoint file resumes from (None: it holds weights only), and the run's last metric
        row now (its worker stored every metric logged before the checkpoint). A checkpoint beyond the last one is
        progress: the count of automatic resumes starts again (only resumes that get nowhere are bounded)."""
        self.db.execute(
            "UPDATE runs SET recoveries=CASE WHEN ? > COALESCE(checkpoint_step, -1) THEN 0 "
            "ELSE recoveries END, checkpoint_step=?, checkpoint_metric=(SELECT COALESCE(MAX(rowid), 0) "
            "FROM metrics WHERE run=?) WHERE id=?",
            (step, step, run_id, run_id),
        )

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        """A run's last checkpoint, loaded with weights_only=True; a missing or unreadable one is a ConfigError."""
        from engine.params import ConfigError
        from engine.runtime.checkpoints import load_checkpoint

        path = self.checkpoint_path(run_id)
        if not path.is_file():
            raise ConfigError(f"run {run_id} has no checkpoint")
        try:
            return load_checkpoint(path)
        except Exception as error:  # noqa: BLE001 torch.load fails in many ways on a damaged file: one line says so
            raise ConfigError(f"run {run_id}'s checkpoint cannot be read ({type(error).__name__})") from None

    # worker logs: each run's stdout and stderr, for its owner and the admin -----------------------

    def log_path(self, run_id: int) -> Path:
        return self.data_dir / "logs" / f"run-{run_id}.log"

    def log_tail(self, run_id: int, limit: int = 20_000) -> str:
        path = self.log_path(run_id)
        if not path.is_file():
            return ""
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - limit))
            return log.read().decode(errors="replace")
