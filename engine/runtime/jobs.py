"""The job manager: a queue with a cap on concurrent workers, supervision, and live control.

Workers are plain subprocesses (`python -m engine.runtime.worker`), not multiprocessing children:
nothing of the parent's `__main__` (Streamlit's, pytest's) is re-imported, and a worker outlives a
restart of the app that started it. Any number of managers (the app, the CLI) may share one store:
claiming a queued run is atomic, and a run whose heartbeat stops is marked failed by whichever
manager notices first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine.labs import get_lab
from engine.params import ConfigError
from engine.runtime.store import Store

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


class JobManager:
    def __init__(
        self,
        data_dir: str | Path | None = None,
        max_jobs: int | None = None,
        heartbeat_timeout: float = 5.0,
        supervise_every: float = 0.25,
    ):
        self.store = Store(data_dir)
        self.max_jobs = max_jobs or int(os.environ.get("DREAMLAB_MAX_JOBS", "0")) or os.cpu_count() or 1
        self.heartbeat_timeout = heartbeat_timeout
        self.processes: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, args=(supervise_every,), daemon=True)
        self._supervisor.start()

    # what the UI and CLI call --------------------------------------------------------------------

    def submit(self, lab: str, overrides: dict[str, Any], preset: str | None = None, owner: str = "") -> int:
        """Validate, queue, and dispatch if a slot is free. Raises ConfigError (and starts nothing) on bad input."""
        config = get_lab(lab).space.resolve(preset, overrides)
        run_id = self.store.create_run(lab, config, owner)
        self.tick()
        return run_id

    def submit_sweep(self, base_run_id: int, name: str, values: list[Any], owner: str = "") -> list[int]:
        """One job per value: the base run's config with `name` set, linked to the base run through the lab's
        `sweep_link` parameter (e.g. the World Models τ table: one controller per τ in one world)."""
        base = self.store.get_run(base_run_id)
        if base is None:
            raise ConfigError(f"no run {base_run_id}")
        if base.status != "done":
            raise ConfigError(f"run {base_run_id} is {base.status}: a sweep starts from a finished run")
        lab = get_lab(base.lab)
        link = {lab.sweep_link: base_run_id} if lab.sweep_link else {}
        configs = [lab.space.validate({**base.config, name: value, **link}) for value in values]  # all or none
        ids = [self.store.create_run(lab.name, config, owner) for config in configs]
        self.tick()
        return ids

    def pause(self, run_id: int) -> None:
        self._control(run_id, {"op": "pause"})

    def resume(self, run_id: int) -> None:
        self._control(run_id, {"op": "resume"})

    def stop(self, run_id: int) -> None:
        run = self._active_run(run_id)
        if run.status == "queued" and self.store.finish(run_id, "stopped"):
            return
        self._control(run_id, {"op": "stop"})

    def set_params(self, run_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        run = self._active_run(run_id)
        checked = get_lab(run.lab).space.validate_live(changes)
        self._control(run_id, {"op": "set", "params": checked})
        return checked

    def delete(self, run_id: int) -> None:
        run = self.store.get_run(run_id)
        if run and run.active:
            raise ConfigError(f"run {run_id} is {run.status}: stop it before deleting it")
        self.store.delete_run(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.store.get_run(run_id)
            if run is None or not run.active:
                return run.status if run else "deleted"
            if deadline is not None and time.monotonic() > deadline:
                return run.status
            time.sleep(0.1)

    def shutdown(self, stop_runs: bool = False) -> None:
        """Stop supervising. Workers keep running unless asked to stop (a restarted app re-attaches)."""
        if stop_runs:
            for run_id in list(self.processes):
                if (run := self.store.get_run(run_id)) and run.active:
                    self.stop(run_id)
        self._closed.set()
        self._supervisor.join()

    # internals -----------------------------------------------------------------------------------

    def _active_run(self, run_id: int):
        run = self.store.get_run(run_id)
        if run is None:
            raise ConfigError(f"no run {run_id}")
        if not run.active:
            raise ConfigError(f"run {run_id} is {run.status}, not running")
        return run

    def _control(self, run_id: int, payload: dict[str, Any]) -> None:
        self._active_run(run_id)
        self.store.send_control(run_id, payload)

    def _supervise(self, every: float) -> None:
        while not self._closed.wait(every):
            try:
                self.tick()
            except Exception as error:  # noqa: BLE001 keep supervising; a locked DB for a moment is no reason to stop
                print(f"dreamlab supervisor: {error}", file=sys.stderr)

    def tick(self) -> None:
        with self._lock:
            self._reap_own_workers()
            self._fail_silent_workers()
            self._dispatch()

    def _reap_own_workers(self) -> None:
        for run_id, process in list(self.processes.items()):
            code = process.poll()
            if code is None:
                continue
            del self.processes[run_id]
            self.store.finish(run_id, "failed", error=describe_exit(code))  # no-op if the worker finished it

    def _fail_silent_workers(self) -> None:
        """Runs started by another manager (or before a restart): only the heartbeat tells us they died."""
        now = time.time()
        for run in self.store.list_runs(statuses=("running", "paused")):
            if run.id in self.processes or run.heartbeat is None:
                continue
            silent = now - run.heartbeat
            if silent > self.heartbeat_timeout:
                self.store.finish(run.id, "failed", error=f"worker stopped responding (no heartbeat for {silent:.0f} s)")

    def _dispatch(self) -> None:
        active = len(self.store.list_runs(statuses=("running", "paused")))
        for run in reversed(self.store.list_runs(statuses=("queued",))):  # oldest first
            if active >= self.max_jobs:
                return
            if not self.store.claim(run.id, pid=0):
                continue  # another manager took it
            process = subprocess.Popen(
                [sys.executable, "-m", "engine.runtime.worker", str(self.store.data_dir), str(run.id)],
                cwd=PROJECT_ROOT,
                env={**os.environ, "OMP_NUM_THREADS": "1",
                     "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))},
                start_new_session=True,  # a Ctrl-C meant for the app or CLI does not kill training mid-write
            )
            self.store.set_pid(run.id, process.pid)
            self.processes[run.id] = process
            active += 1
