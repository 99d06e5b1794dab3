"""A worker process: runs one lab's `train(config, ctx)` against the store.

Started by the job manager as `python -m engine.runtime.worker DATA_DIR RUN_ID`. A thread beats the
heartbeat so the manager can tell a slow step from a dead process.
"""

from __future__ import annotations

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
from engine.runtime.store import Run, Store, params_now

HEARTBEAT_SECONDS = 0.5
POLL_SECONDS = 0.1  # controls act within this, far inside the 1 s promise
FLUSH_SECONDS = 0.5


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
        self._pending_metrics: list[tuple[int, int, str, float]] = []
        self._last_flush = self._last_poll = 0.0

    def log(self, step: int, **scalars: float) -> None:
        self.step = step
        self.heartbeat.polled = time.time()
        self._pending_metrics += [(self.run_id, step, name, float(value)) for name, value in scalars.items()]
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.store.add_metrics(self._pending_metrics)
        self._pending_metrics = []
        self._last_flush = time.monotonic()

    def snapshot(self, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        self.flush()
        self.store.put_snapshot(self.run_id, name, step, data)

    def _keep(self, record: dict[str, Any]) -> None:
        self.flush()  # every metric up to the checkpoint's step is stored before the checkpoint is
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
            self.store.mark_applied(seq)
            op, detail = payload.get("op"), {}
            if op == "pause" and not self.paused:
                self.paused = True
                self.store.set_paused(self.run_id, True)
            elif op == "resume" and self.paused:
                self.paused = False
                self.store.set_paused(self.run_id, False)
            elif op == "stop":
                self.stopping = True
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
        store = self.open_store()  # its own connection: sqlite connections are not shared across threads
        while True:
            store.beat(self.run_id, self.fraction, self.stage, self.polled)
            if self.done.wait(HEARTBEAT_SECONDS):
                break
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
        store.finish(run_id, "failed", error=f"cannot resume: {error}")
        heartbeat.done.set()
        return 1
    ctx = StoreContext(store, run, params_now(run.config, store.events(run_id)), lab.space, heartbeat, resume)
    try:
        summary = lab.train_fn()(dict(run.config), ctx)
        ctx.flush()
        heartbeat.stage = "stopped" if ctx.stopping else "done"
        if not ctx.stopping:
            heartbeat.fraction = 1.0
        store.beat(run_id, heartbeat.fraction, heartbeat.stage)
        store.finish(run_id, heartbeat.stage, summary=summary or {})
        return 0
    except Exception as error:  # noqa: BLE001 a failed run is data for the user, not a crash of the app
        ctx.flush()
        store.finish(run_id, "failed", error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
        return 1
    finally:
        heartbeat.done.set()
        heartbeat.join()


if __name__ == "__main__":
    sys.exit(run_worker(sys.argv[1], int(sys.argv[2])))
