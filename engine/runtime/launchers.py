"""Launchers: *where and how* a worker runs and is ended. The scheduler decides which run starts; a launcher
starts it, says whether it still lives, how much memory it holds, and ends it.

`LocalLauncher` (the default) runs each worker as a subprocess in its own process group, its stdout and stderr
in the run's log file, held by the operating system to its memory budget (the worker sets RLIMIT_AS on itself
first: engine/runtime/worker.py). Workers are plain subprocesses (`python -m engine.runtime.worker`), not
multiprocessing children: nothing of the parent's `__main__` (Streamlit's, pytest's) is re-imported, and a worker
outlives a restart of the app that started it — which then finds it again by its recorded pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.runtime.store import Run, Store

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


@dataclass(frozen=True)
class Exit:
    """Why a worker ended. `lost`: it went with its machine (a node gone), not by its own doing: its run resumes."""

    reason: str
    lost: bool = False


def worker_env_vars() -> dict[str, str]:
    """What every launcher adds to a worker's environment: torch on one thread, the project on its path."""
    return {
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }


def worker_env() -> dict[str, str]:
    return {**os.environ, **worker_env_vars()}


class Launcher(Protocol):
    def start(self, run: Run) -> None:
        """Start the worker of a claimed run (it reads its config from the store)."""

    def exited(self) -> dict[int, Exit]:
        """Runs whose worker this launcher started and that have ended since the last call: run id → why."""

    def alive(self, run: Run) -> bool:
        """Whether the run's worker still exists (also one started by another scheduler, or before a restart)."""

    def memory_mb(self, run: Run) -> float | None:
        """The worker's resident memory, with its children (ViZDoom's engine is one); None when unknown."""

    def end(self, run: Run) -> None:
        """End the worker and everything it started, now."""


class LocalLauncher:
    """Subprocess workers on this machine, one process group each."""

    def __init__(self, store: Store, budget_mb: float = 0):
        self.store, self.budget_mb = store, budget_mb  # a worker's memory budget (0: none)
        self.processes: dict[int, subprocess.Popen] = {}

    def start(self, run: Run) -> None:
        log_path = self.store.log_path(run.id)
        log_path.parent.mkdir(exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "engine.runtime.worker", str(self.store.data_dir), str(run.id)],
                cwd=PROJECT_ROOT,
                env=worker_env() | ({"DREAMLAB_WORKER_MEMORY_MB": str(self.budget_mb)} if self.budget_mb else {}),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a Ctrl-C meant for the app does not reach it,
            )  # and ending the group ends whatever the worker started too
        self.store.set_pid(run.id, process.pid)
        self.store.set_node(run.id, f"local pid {process.pid}")
        self.processes[run.id] = process

    def exited(self) -> dict[int, Exit]:
        ended = {}
        for run_id, process in list(self.processes.items()):
            code = process.poll()
            if code is not None:
                del self.processes[run_id]
                ended[run_id] = Exit(describe_exit(code))
        return ended

    def alive(self, run: Run) -> bool:
        if run.id in self.processes:
            return self.processes[run.id].poll() is None
        return bool(run.pid) and is_worker(run.pid, run.id, self.store.data_dir)

    def memory_mb(self, run: Run) -> float | None:
        if not run.pid or not self.alive(run):
            return None
        return sum(rss_kb(pid) for pid in _group_members(run.pid)) / 1024

    def end(self, run: Run) -> None:
        if run.pid and self.alive(run):
            try:
                os.killpg(run.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if run.id in self.processes:
            self.processes.pop(run.id).wait(timeout=10)


def is_worker(pid: int, run_id: int, data_dir: Path) -> bool:
    """The pid is still that run's worker (a pid number can be reused by an unrelated process)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and "engine.runtime.worker" in argv and str(data_dir) in argv and str(run_id) in argv


def _group_members(group: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:  # field 5 of /proc/<pid>/stat: the process group
                members.append(int(entry.name))
    return members


def rss_kb(pid: int) -> int:
    """A process's resident memory in kB, from /proc (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
