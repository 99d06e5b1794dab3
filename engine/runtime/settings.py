"""The deployment's knobs, read once from the environment: the local profile (one person, no limits) or the
hosted profile (`DREAMLAB_MODE=demo`: many visitors, each in control of their own runs, with quotas and limits).

Every knob is an environment variable with a sane default; README.md lists them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


def available_cpus() -> int:
    """Cores this process may really use: its CPU affinity, capped by a cgroup v2 quota (a container's --cpus)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if value < 0 or not math.isfinite(value):
        raise SystemExit(f"{name}={raw!r} must be a finite number ≥ 0")
    return value


@dataclass(frozen=True)
class Settings:
    hosted: bool  # DREAMLAB_MODE=demo
    admin_token: str  # DREAMLAB_ADMIN_TOKEN: `?admin=<token>` unlocks full control in the hosted profile
    slots: int  # DREAMLAB_MAX_JOBS: runs training at once (a paused run holds none)
    runs_per_visitor: int  # DREAMLAB_RUNS_PER_VISITOR: a visitor's active submissions (a sweep is one)
    queue_limit: int  # DREAMLAB_QUEUE_LIMIT: queued runs before "the demo is busy"
    run_seconds: float  # DREAMLAB_RUN_SECONDS: wall-clock limit of a run (0 = none)
    pause_seconds: float  # DREAMLAB_PAUSE_SECONDS: a run paused longer is stopped (0 = never)
    memory_mb: float  # DREAMLAB_RUN_MEMORY_MB: a worker's memory ceiling, and the budget a config is checked against
    stall_seconds: float  # DREAMLAB_STALL_SECONDS: a trainer that has not polled for this long is ended
    stop_grace_seconds: float  # DREAMLAB_STOP_GRACE_SECONDS: after Stop, the worker's process group is killed
    ray_address: str = ""  # DREAMLAB_RAY_ADDRESS: run workers on this Ray cluster (HOST:PORT, or auto); "" = here

    @classmethod
    def from_env(cls) -> Settings:
        mode = os.environ.get("DREAMLAB_MODE", "local").strip().lower()
        if mode not in ("local", "demo"):
            raise SystemExit(f"DREAMLAB_MODE={mode!r}: use local or demo")
        hosted = mode == "demo"
        slots = int(_number("DREAMLAB_MAX_JOBS", 0)) or available_cpus()
        return cls(
            hosted=hosted,
            admin_token=os.environ.get("DREAMLAB_ADMIN_TOKEN", ""),
            slots=slots,
            runs_per_visitor=int(_number("DREAMLAB_RUNS_PER_VISITOR", 1)) if hosted else 0,
            queue_limit=int(_number("DREAMLAB_QUEUE_LIMIT", 3 * slots)) if hosted else 0,
            run_seconds=_number("DREAMLAB_RUN_SECONDS", 20 * 60 if hosted else 0),
            pause_seconds=_number("DREAMLAB_PAUSE_SECONDS", 10 * 60 if hosted else 0),
            memory_mb=_number("DREAMLAB_RUN_MEMORY_MB", 4096 if hosted else 0),
            stall_seconds=_number("DREAMLAB_STALL_SECONDS", 600),
            stop_grace_seconds=_number("DREAMLAB_STOP_GRACE_SECONDS", 15),
            ray_address=os.environ.get("DREAMLAB_RAY_ADDRESS", "").strip(),
        )
