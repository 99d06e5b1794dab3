"""The deployment's knobs, read once from the environment: the local profile (one person, no limits) or the
hosted profile (`DREAMLAB_MODE=demo`: many visitors, each in control of their own runs, with quotas and limits).

Every knob is an environment variable with a sane default; docs/deploying.md lists them.
`python -m engine.runtime.settings` checks a deployment's environment before the server starts (the Docker image
does): a bad knob, port or data directory gets one line and exit status 2, not a traceback at the first visit.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.labs import WORKER_MB
from engine.runtime.store import default_data_dir

CGROUP = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's group in each hierarchy
PROC_MOUNTS = Path("/proc/mounts")
# where SQLite's WAL (shared memory beside the database) is not safe: network and FUSE-mounted storage
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "afs", "gpfs"}
LOCAL_FUSE = {"fuse.fuse-overlayfs"}  # a container's own root filesystem under rootless podman
SERVER_MB = 1024  # the server beside its workers: Streamlit, torch, a few sessions' state


QUEUE_PER_SLOT = 3  # the hosted queue's default: this many runs may wait for each slot
MIN_FREE_MB = 200  # free space the data disk keeps: new runs are refused below it, runs in flight fail below half


def _cgroup(controller: str, name: str) -> str | None:
    """One setting of this process's cgroup: `controller` "" is cgroup v2 (one hierarchy), else a cgroup v1
    controller (cpu, memory). The process's own group first (a host), then the hierarchy's root (a container,
    whose cgroup namespace shows its own group as the root). None where neither is readable."""
    group = "/"
    try:
        for line in PROC_CGROUP.read_text().splitlines():  # "4:memory:/path", "0::/path" (v2)
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                group = path
    except (OSError, ValueError):
        pass
    for folder in dict.fromkeys((CGROUP / controller / group.lstrip("/"), CGROUP / controller)):
        try:
            return (folder / name).read_text().strip()
        except OSError:
            continue
    return None


def available_cpus() -> int:
    """Cores this process may really use: its CPU affinity, capped by its cgroup's CPU quota (a container's --cpus):
    cgroup v2's cpu.max, else cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    v2 = _cgroup("", "cpu.max")  # "max 100000" or "150000 100000"
    quota, period = v2.split()[:2] if v2 else (_cgroup("cpu", "cpu.cfs_quota_us"), _cgroup("cpu", "cpu.cfs_period_us"))
    try:
        if quota not in (None, "max", "-1"):
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (TypeError, ValueError):
        pass
    return max(1, cores)


def available_memory_mb() -> float:
    """Memory this process may really use: the machine's, capped by its cgroup's limit (a container's --memory):
    cgroup v2's memory.max, else cgroup v1's memory.limit_in_bytes (a huge number where there is no limit)."""
    limit = _cgroup("", "memory.max") or _cgroup("memory", "memory.limit_in_bytes") or ""
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(machine, int(limit) if limit.isdigit() else machine) / 2**20


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if value < 0 or not math.isfinite(value):
        raise SystemExit(f"{name}={raw!r} must be a finite number ≥ 0")
    return value


def queue_limit_for(slots: int) -> int:
    """The hosted queue's length for this many slots: DREAMLAB_QUEUE_LIMIT, else QUEUE_PER_SLOT runs per slot."""
    return int(_number("DREAMLAB_QUEUE_LIMIT", QUEUE_PER_SLOT * slots))


def run_memory_mb(slots: int) -> float:
    """The hosted profile's memory per run: 4 GB, or less where the machine (or container) cannot hold that for every
    slot beside the server itself."""
    return max(WORKER_MB, min(4096, (available_memory_mb() - SERVER_MB) / slots))


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
    runs_per_client: int = 0  # DREAMLAB_RUNS_PER_CLIENT: active submissions of one client address, every cookie
    trusted_proxies: tuple[str, ...] = ("private",)  # DREAMLAB_TRUSTED_PROXIES: whose X-Forwarded-For names the client
    min_free_mb: float = 0  # DREAMLAB_MIN_FREE_MB: below this free on the data disk, nothing new starts
    disk_per_visitor_mb: float = 0  # DREAMLAB_DISK_PER_VISITOR_MB: a visitor's checkpoints and snapshots (0 = any)
    keep_days: float = 0  # DREAMLAB_KEEP_DAYS: a finished run's checkpoint and snapshots go after this (0 = kept)

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
            queue_limit=queue_limit_for(slots) if hosted else 0,
            run_seconds=_number("DREAMLAB_RUN_SECONDS", 20 * 60 if hosted else 0),
            pause_seconds=_number("DREAMLAB_PAUSE_SECONDS", 10 * 60 if hosted else 0),
            memory_mb=_number("DREAMLAB_RUN_MEMORY_MB", run_memory_mb(slots) if hosted else 0),
            stall_seconds=_number("DREAMLAB_STALL_SECONDS", 600),
            stop_grace_seconds=_number("DREAMLAB_STOP_GRACE_SECONDS", 15),
            ray_address=os.environ.get("DREAMLAB_RAY_ADDRESS", "").strip(),
            runs_per_client=int(_number("DREAMLAB_RUNS_PER_CLIENT", max(1, slots // 2))) if hosted else 0,
            trusted_proxies=tuple(
                filter(None, map(str.strip, os.environ.get("DREAMLAB_TRUSTED_PROXIES", "private").split(",")))
            ),
            min_free_mb=_number("DREAMLAB_MIN_FREE_MB", MIN_FREE_MB),
            disk_per_visitor_mb=_number("DREAMLAB_DISK_PER_VISITOR_MB", 1024 if hosted else 0),
            keep_days=_number("DREAMLAB_KEEP_DAYS", 7 if hosted else 0),
        )


def filesystem_of(path: Path) -> str:
    """The filesystem type (ext4, nfs4, fuse.s3fs, …) of the mount that holds `path`, from /proc/mounts."""
    path, best, kind = path.resolve(), "", ""
    try:
        mounts = PROC_MOUNTS.read_text().splitlines()
    except OSError:
        return ""
    for line in mounts:
        fields = line.split()
        point = fields[1].replace("\\040", " ")
        if path.is_relative_to(point) and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def data_dir_problem(data: Path) -> str | None:
    """Why the store cannot live in `data` (cannot be made, not writable, on a network filesystem), or None."""
    try:
        data.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data):
            pass
    except OSError as error:
        return f"data directory {data} is not writable by uid {os.getuid()}: {error.strerror}"
    kind = filesystem_of(data)
    if kind in NETWORK_FILESYSTEMS or (kind.startswith("fuse") and kind not in LOCAL_FUSE):
        return (
            f"data directory {data} is on a network filesystem ({kind}), where SQLite's WAL is not safe: "
            "point DREAMLAB_DATA at a local disk"
        )
    return None


def deployment_problem() -> str | None:
    """What is wrong with this server's environment before it starts — a knob, PORT, the data directory — or None."""
    try:
        settings = Settings.from_env()
    except SystemExit as bad_knob:
        return str(bad_knob)
    port = os.environ.get("PORT", "8501")
    if not (port.strip().isdigit() and 0 < int(port) < 65536):
        return f"PORT={port!r} is not a port number (1-65535)"
    if settings.ray_address and importlib.util.find_spec("ray") is None:
        return f"DREAMLAB_RAY_ADDRESS={settings.ray_address!r} is set, but ray is not installed here"
    return data_dir_problem(default_data_dir())


if __name__ == "__main__":
    problem = deployment_problem()
    if problem:
        print(f"dreamlab: {problem}", file=sys.stderr)
    sys.exit(2 if problem else 0)
