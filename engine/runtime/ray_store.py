"""How a worker on another machine writes to the one store on the app's machine.

The store stays embedded SQLite in the app's data directory: nothing but processes on that machine can open
it (SQLite over a network filesystem is unsafe, and WAL needs shared memory). So one `StoreActor` per app
machine — a Ray actor pinned to the driver's node, holding no CPU — owns every write a remote worker makes,
and each worker gets a `RemoteStore`: the methods its `StoreContext` and heartbeat call, on the actor.

- Writes (metrics, snapshots, events, applied controls, log lines) are queued in the worker and travel in
  one actor call with the next call that needs an answer: the trainer's poll of its controls (at most every
  0.1 s) or the heartbeat (every 0.5 s). The actor applies a batch in one SQLite transaction. Calls from one
  worker run in the order they were made, so a worker's writes land in order, as they would locally.
- Live controls stay in the store's `controls` table: the poll that ships the worker's writes brings its
  pending controls back, so a pause or a learning-rate change reaches a remote trainer as fast as a local one.
- Checkpoints travel as bytes and are written by the actor with the same temp-file-and-rename as local ones,
  after the bytes load with `weights_only=True`; `load_run_checkpoint` reads bytes back through the actor and
  loads them with `weights_only=True` in the worker.
- Times are the app machine's: a heartbeat is stamped by the actor, and the trainer's last poll travels as an
  age, so clocks that differ between machines never make a run look stalled.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from engine.runtime.launchers import rss_kb
from engine.runtime.store import Run, Store

NAMESPACE = "dreamlab"
STORE_ACTOR_VERSION = 2  # in the actor's name: a newer Dreamlab never talks to an older detached actor

# what a worker may ask of the store; anything else is refused
WRITES = frozenset(
    {
        "add_metrics",
        "put_snapshot",
        "add_event",
        "mark_applied",
        "beat",
        "set_paused",
        "park",
        "finish",
        "set_node",
        "append_log",
        "save_checkpoint_bytes",
        "report_memory",
    }
)
READS = frozenset({"pending_controls", "get_run", "checkpoint_bytes", "events"})


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class StoreActor:
    """The app machine's writer for remote workers: one `Store` connection per data directory."""

    def __init__(self) -> None:
        self.stores: dict[str, Store] = {}
        self.memory: dict[tuple[str, int], tuple[float, float]] = {}  # (data dir, run) → (MB, when reported)

    def ready(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def _store(self, data_dir: str) -> Store:
        if data_dir not in self.stores:
            if not (Path(data_dir) / "dreamlab.sqlite3").is_file():
                raise FileNotFoundError(f"no Dreamlab store in {data_dir} on this machine")
            self.stores[data_dir] = Store(data_dir)
        return self.stores[data_dir]

    def call(self, data_dir: str, ops: list[tuple[str, tuple]], method: str | None = None, args: tuple = ()) -> Any:
        """Apply a worker's queued writes in one transaction, then answer `method` (a read or a write)."""
        store = self._store(data_dir)
        if ops:
            with store.transaction():
                for name, op_args in ops:
                    self._apply(store, data_dir, name, op_args)
        if method is None:
            return None
        if method in READS:
            return self._read(store, method, args)
        return self._apply(store, data_dir, method, args)

    def _apply(self, store: Store, data_dir: str, name: str, args: tuple) -> Any:
        if name not in WRITES:
            raise ValueError(f"not a store write: {name}")
        if name == "beat":  # stamped here; the trainer's last poll arrives as an age
            run_id, progress, stage, polled_age = args
            return store.beat(run_id, progress, stage, None if polled_age is None else time.time() - polled_age)
        if name == "append_log":
            run_id, text = args
            path = store.log_path(run_id)
            path.parent.mkdir(exist_ok=True)
            with path.open("a", encoding="utf-8", errors="replace") as log:
                log.write(text)
            return None
        if name == "save_checkpoint_bytes":
            from engine.runtime.checkpoints import load_checkpoint_bytes

            run_id, data, step = args
            load_checkpoint_bytes(data)  # raises on anything but tensors and plain containers; nothing is written then
            return store.replace_checkpoint(run_id, step, lambda file: file.write(data))
        if name == "report_memory":
            run_id, mb = args
            self.memory[(data_dir, run_id)] = (mb, time.time())
            return None
        return getattr(store, name)(*args)

    def _read(self, store: Store, name: str, args: tuple) -> Any:
        if name == "checkpoint_bytes":
            (run_id,) = args
            path = store.checkpoint_path(run_id)
            return path.read_bytes() if path.is_file() else None
        return getattr(store, name)(*args)

    def memory_mb(self, data_dir: str, fresh_seconds: float = 5.0) -> dict[int, float]:
        """Each remote worker's resident memory as it last reported it (recent reports only)."""
        now = time.time()
        return {
            run_id: mb
            for (directory, run_id), (mb, when) in self.memory.items()
            if directory == data_dir and now - when < fresh_seconds
        }


def store_actor_name(node_id: str) -> str:
    return f"dreamlab-store-v{STORE_ACTOR_VERSION}-{node_id[:16]}"


def process_tree_mb(pid: int | None = None) -> float:
    """Resident memory of a process and its descendants (ViZDoom's engine is a child), from /proc."""
    root = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        current = todo.pop()
        total += rss_kb(current)
        todo += children.get(current, [])
    return total / 1024


class RemoteStore:
    """A worker's store on another machine: writes queue here and reach the `StoreActor` in batches."""

    def __init__(self, actor: Any, data_dir: str):
        self.actor, self.data_dir = actor, data_dir
        self._ops: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()  # the trainer and the heartbeat thread share one client

    def _queue(self, name: str, *args: Any) -> None:
        with self._lock:
            self._ops.append((name, args))

    def _call(self, method: str | None = None, *args: Any) -> Any:
        with self._lock:  # taking the queue and sending it is one step: batches leave in the order they formed
            ops, self._ops = self._ops, []
            reply = self.actor.call.remote(self.data_dir, ops, method, args)
        return ray.get(reply)

    # writes that wait for the next call
    def add_metrics(self, rows: list[tuple[int, int, str, float]]) -> None:
        if rows:
            self._queue("add_metrics", list(rows))

    def put_snapshot(self, run_id: int, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        arrays = {k: np.asarray(v) for k, v in data.items()} if isinstance(data, dict) else np.asarray(data)
        self._queue("put_snapshot", run_id, name, step, arrays)

    def add_event(self, run_id: int, step: int, kind: str, detail: dict[str, Any]) -> None:
        self._queue("add_event", run_id, step, kind, detail)

    def mark_applied(self, seq: int) -> None:
        self._queue("mark_applied", seq)

    def append_log(self, run_id: int, text: str) -> None:
        self._queue("append_log", run_id, text)

    # calls that answer (and carry the queue with them)
    def pending_controls(self, run_id: int) -> list[tuple[int, dict[str, Any]]]:
        return self._call("pending_controls", run_id)

    def beat(
        self, run_id: int, progress: float | None = None, stage: str | None = None, polled: float | None = None
    ) -> None:
        self._queue("report_memory", run_id, process_tree_mb())
        self._call("beat", run_id, progress, stage, None if polled is None else max(0.0, time.time() - polled))

    def set_paused(self, run_id: int, paused: bool) -> bool:
        return self._call("set_paused", run_id, paused)

    def park(self, run_id: int) -> None:
        self._call("park", run_id)

    def finish(self, run_id: int, status: str, error: str = "", summary: dict | None = None, note: str = "") -> bool:
        return self._call("finish", run_id, status, error, summary, note)

    def set_node(self, run_id: int, node: str) -> None:
        self._call("set_node", run_id, node)

    def get_run(self, run_id: int) -> Run | None:
        return self._call("get_run", run_id)

    def events(self, run_id: int) -> list[dict[str, Any]]:
        return self._call("events", run_id)

    def save_run_checkpoint(self, run_id: int, state: dict[str, Any]) -> None:
        from engine.runtime.checkpoints import checkpoint_bytes

        step = state.get("resume", {}).get("step")
        self._call("save_checkpoint_bytes", run_id, checkpoint_bytes(state), step)  # the state as it is now

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        from engine.params import ConfigError
        from engine.runtime.checkpoints import load_checkpoint_bytes

        data = self._call("checkpoint_bytes", run_id)
        if data is None:
            raise ConfigError(f"run {run_id} has no checkpoint")
        return load_checkpoint_bytes(data)

    def flush(self) -> None:
        if self._ops:
            self._call(None)

    def close(self) -> None:
        self.flush()


class LogStream(io.TextIOBase):
    """A remote worker's stdout/stderr, into its run's log file on the app's machine (the Runs page shows it)."""

    def __init__(self, store: RemoteStore, run_id: int):
        self.store, self.run_id = store, run_id

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self.store.append_log(self.run_id, text)
        return len(text)
