"""A worker process: runs one lab's `train(config, ctx)` against the store.

Started by the job manager as `python -m engine.runtime.worker DATA_DIR RUN_ID`. A thread beats the
heartbeat so the manager can tell a slow step from a dead process; a beat that fails (a locked database, a full
disk for a moment) is retried at the next, never the end of the thread.

A paused worker gives its memory back when the scheduler needs its slot ("park"): its trainer stops as on Stop
(keeping a checkpoint), the run stays paused without a worker, and Resume starts a worker again from that checkpoint.
A disk that fills up fails the run with that reason while there is still room to say so: the worker refuses to
write once less than half of DREAMLAB_MIN_FREE_MB is free (everything stored before stays).
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import numpy as np

from engine.context import Context, ResumePoint
from engine.labs import get_lab
from engine.params import ConfigError, ParamSpace
from engine.runtime.settings import Settings
from engine.runtime.store import Run, Status, Store, params_now

HEARTBEAT_SECONDS = 0.5
POLL_SECONDS = 0.1  # controls act within this, far inside the 1 s promise
FLUSH_SECONDS = 0.5
DISK_CHECK_SECONDS = 1.0
# address space a worker reserves without using it (shared libraries, thread stacks, malloc arenas: ~650 MB with
# torch imported, of which ~230 MB resident; a World Models quick bench peaked at 6.5 GB of address space for 4.6 GB
# resident), allowed above its memory budget: the limit stops a runaway allocation, the supervisor's poll the rest
ADDRESS_SPACE_SLACK_MB = 3072


def limit_memory() -> float:
    """Hold this worker, and whatever it starts, to its memory budget (DREAMLAB_WORKER_MEMORY_MB, set by the launcher)
    with the operating system: past it an allocation fails at once, however fast it came, where the scheduler's poll
    of the resident memory might be late. The budget (0: none)."""
    budget = float(os.environ.get("DREAMLAB_WORKER_MEMORY_MB") or 0)
    if budget:
        limit = int((budget + ADDRESS_SPACE_SLACK_MB) * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return budget


def out_of_memory(error: BaseException) -> bool:
    """An allocation the operating system refused (numpy's MemoryError, torch's allocator error)."""
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error)


class DiskFull(Exception):
    """The data disk is nearly full: the run ends here, with everything it stored so far."""


class RunStore(Protocol):
    """What a worker needs of the store: a `Store` on this machine, or a client whose writes reach the app's
    store from another machine (engine/runtime/ray_store.py)."""

    def add_metrics(self, rows: list[tuple[int, int, str, float]]) -> None: ...
    def put_snapshot(self, run_id: int, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None: ...
    def add_event(self, run_id: int, step: int, kind: str, detail: dict[str, Any]) -> None: ...
    def events(self, run_id: int) -> list[dict[str, Any]]: ...
    def pending_controls(self, run_id: int) -> list[tuple[int, dict[str, Any]]]: ...
    def mark_applied(self, seq: int) -> None: ...
    def set_paused(self, run_id: int, paused: bool) -> bool: ...
    def park(self, run_id: int) -> None: ...
    def beat(
        self, run_id: int, progress: float | None = None, stage: str | None = None, polled: float | None = None
    ) -> None: ...
    def finish(
        self, run_id: int, status: str, error: str = "", summary: dict | None = None, note: str = ""
    ) -> bool: ...
    def get_run(self, run_id: int) -> Run | None: ...
    def save_run_checkpoint(self, run_id: int, state: dict[str, Any]) -> None: ...
    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]: ...
    def close(self) -> None: ...


class StoreContext(Context):
    def __init__(
        self,
        store: RunStore,
        run: Run,
        params: dict[str, Any],
        space: ParamSpace,
        heartbeat: Heartbeat,
        resume: ResumePoint | None,
    ):
        super().__init__(params, lab=run.lab, resume=resume)
        self.store, self.run_id, self.space, self.heartbeat = store, run.id, space, heartbeat
        self.step = resume.step if resume else 0
        self.paused = False
        self.stopping = False
        self.parking = False  # stopping to give the memory back while paused; the run stays paused
        self._pending_metrics: list[tuple[int, int, str, float]] = []
        self._last_flush = self._last_poll = self._disk_checked = 0.0
        self.data_dir = store.data_dir if isinstance(store, Store) else None  # a local store's disk is this machine's
        self.min_free_mb = Settings.from_env().min_free_mb / 2  # below DREAMLAB_MIN_FREE_MB nothing new starts

    def check_disk(self) -> None:
        """Raise DiskFull before a write that could fill the disk (at most once a second)."""
        if self.data_dir is None or not self.min_free_mb or time.monotonic() - self._disk_checked < DISK_CHECK_SECONDS:
            return
        self._disk_checked = time.monotonic()
        free = shutil.disk_usage(self.data_dir).free / 2**20
        if free < self.min_free_mb:
            raise DiskFull(
                f"the server's disk is full ({free:.0f} MB free): the run ended here, with its charts and its last "
                "checkpoint kept"
            )

    def log(self, step: int, **scalars: float) -> None:
        self.step = step
        self.heartbeat.polled = time.time()
        self._pending_metrics += [(self.run_id, step, name, float(value)) for name, value in scalars.items()]
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending_metrics:
            self.check_disk()
        self.store.add_metrics(self._pending_metrics)
        self._pending_metrics = []
        self._last_flush = time.monotonic()

    def snapshot(self, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        self.flush()
        self.check_disk()
        self.store.put_snapshot(self.run_id, name, step, data)

    def _keep(self, record: dict[str, Any]) -> None:
        self.flush()  # every metric up to the checkpoint's step is stored before the checkpoint is
        self.check_disk()
        self.store.save_run_checkpoint(self.run_id, record)

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        return self.store.load_run_checkpoint(run_id)

    def progress(self, fraction: float, stage: str) -> None:
        self.heartbeat.fraction, self.heartbeat.stage = float(min(max(fraction, 0.0), 1.0)), stage

    def poll(self) -> bool:
        self.heartbeat.polled = time.time()  # liveness follows the trainer, not only this process's thread
        if time.monotonic() - self._last_poll < POLL_SECONDS and not self.paused:
            return not self.stopping
        self._last_poll = time.monotonic()
        self.flush()
        self._apply_controls()
        while self.paused and not self.stopping:
            time.sleep(POLL_SECONDS)
            self._apply_controls()
        return not self.stopping

    def _apply_controls(self) -> None:
        for seq, payload in self.store.pending_controls(self.run_id):
            op, detail = payload.get("op"), {}
            if self.parking and op != "stop":
                continue  # left for the worker that resumes it
            self.store.mark_applied(seq)
            if op == "pause" and not self.paused:
                self.paused = True
                self.store.set_paused(self.run_id, True)
            elif op == "resume" and self.paused:
                self.paused = False
                self.store.set_paused(self.run_id, False)
            elif op == "park":
                self.parking = self.stopping = self.paused  # a resume came first: it trains on
                continue  # the scheduler's, not the visitor's: no event
            elif op == "stop":
                self.stopping, self.parking = True, False
            elif op == "set":
                try:
                    detail = self.space.validate_live(payload.get("params", {}))
                    self.params.update(detail)
                except ConfigError as error:  # the UI validates first; a bad write is logged, not fatal
                    op, detail = "rejected", {"error": str(error)}
            else:
                continue  # a repeated pause/resume, or an unknown op: nothing happened, nothing to mark
            self.store.add_event(self.run_id, self.step, op, detail)


class Heartbeat(threading.Thread):
    """Beats from the first moment of the worker, before torch is imported: startup can take seconds."""

    def __init__(self, data_dir: str | Callable[[], RunStore], run_id: int):
        super().__init__(daemon=True)
        self.data_dir, self.run_id = data_dir, run_id
        # a data directory (its own Store connection) or a function that opens the worker's store
        self.open_store: Callable[[], RunStore] = data_dir if callable(data_dir) else partial(Store, data_dir)
        self.fraction, self.stage = 0.0, "starting"
        self.polled: float | None = None  # the trainer's last log or poll (startup, imports included, is not one)
        self.done = threading.Event()

    def run(self) -> None:
        store = None  # its own connection: sqlite connections are not shared across threads
        while True:
            try:
                store = store or self.open_store()
                store.beat(self.run_id, self.fraction, self.stage, self.polled)
            except Exception as error:  # noqa: BLE001 a busy or full database for a moment: the next beat tries again
                print(f"dreamlab heartbeat: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            if self.done.wait(HEARTBEAT_SECONDS):
                break
        if store is not None:
            store.close()


def run_worker(data_dir: str | Callable[[], RunStore], run_id: int) -> int:
    """Train one run. `data_dir`: the store's directory on this machine, or a function that opens the worker's
    store (called once for the trainer and once for the heartbeat thread)."""
    open_store: Callable[[], RunStore] = data_dir if callable(data_dir) else partial(Store, data_dir)
    heartbeat = Heartbeat(open_store, run_id)
    heartbeat.start()
    import torch  # after the first beat

    torch.set_num_threads(1)  # measured: 2 threads on a busy 2-core box ran 10–60x slower
    store = open_store()
    run = store.get_run(run_id)
    if run is None:  # deleted while queued
        heartbeat.done.set()
        return 2
    lab = get_lab(run.lab)
    try:
        resume = None if run.checkpoint_step is None else ResumePoint.of(store.load_run_checkpoint(run_id), run.lab)
    except ConfigError as error:  # a checkpoint it cannot continue from: one line says why
        store.finish(run_id, Status.FAILED, error=f"cannot resume: {error}")
        heartbeat.done.set()
        return 1
    ctx = StoreContext(store, run, params_now(run.config, store.events(run_id)), lab.space, heartbeat, resume)
    try:
        summary = lab.train_fn()(dict(run.config), ctx)
        ctx.flush()
        if ctx.parking:  # paused, and its slot wanted: the checkpoint is kept, the worker's memory given back
            heartbeat.done.set()
            heartbeat.join()
            store.park(run_id)
            return 0
        heartbeat.stage = Status.STOPPED if ctx.stopping else Status.DONE
        if not ctx.stopping:
            heartbeat.fraction = 1.0
        store.beat(run_id, heartbeat.fraction, heartbeat.stage)
        store.finish(run_id, heartbeat.stage, summary=summary or {})
        return 0
    except Exception as error:  # noqa: BLE001 a failed run is data for the user, not a crash of the app
        failure = f"{type(error).__name__}: {error}"
        if out_of_memory(error):
            budget = os.environ.get("DREAMLAB_WORKER_MEMORY_MB", "?")
            failure = f"it needed more memory than its budget of {float(budget):,.0f} MB: {failure}"
        failure += "" if isinstance(error, DiskFull) else f"\n\n{traceback.format_exc()}"
        print(failure, file=sys.stderr, flush=True)  # in the run's log, whatever the store can take now
        try:
            ctx.flush()  # the metrics since the last flush, if the store takes them
        except Exception as late:  # noqa: BLE001 never hides the error that ended the run
            failure += f"\n\n(its last metrics were not stored: {type(late).__name__}: {late})"
        store.finish(run_id, Status.FAILED, error=failure)
        return 1
    finally:
        heartbeat.done.set()
        heartbeat.join()


if __name__ == "__main__":
    limit_memory()
    sys.exit(run_worker(sys.argv[1], int(sys.argv[2])))
