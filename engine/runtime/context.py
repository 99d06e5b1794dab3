"""The one small object a lab's `train(config, ctx)` talks to.

A lab never sees the store or the job manager; it logs, snapshots, checkpoints, reports progress
and polls for controls through this interface. `LocalContext` keeps everything in memory so tests
and benchmarks can call `train` directly; the worker hands a store-backed one.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from engine.params import ConfigError


class Context:
    """Interface. `params` holds the current values of every hyperparameter, live changes applied."""

    def __init__(self, config: dict[str, Any]):
        self.params: dict[str, Any] = dict(config)

    def log(self, step: int, **scalars: float) -> None:
        raise NotImplementedError

    def snapshot(self, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Keep `state` as it is now: a lab may pass live state_dicts, which its later updates go on changing."""
        raise NotImplementedError

    def progress(self, fraction: float, stage: str) -> None:
        raise NotImplementedError

    def poll(self) -> bool:
        """Apply pending controls (blocking while paused); False means: stop now, cleanly."""
        raise NotImplementedError

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        """Another run's last checkpoint (a sweep's jobs start from their base run's models)."""
        raise NotImplementedError


class LocalContext(Context):
    """In-memory context: for tests, benchmarks and notebooks. `stop_after` simulates a Stop press."""

    def __init__(self, config: dict[str, Any], stop_after_polls: int | None = None, quiet: bool = True,
                 runs: dict[int, dict[str, Any]] | None = None):
        super().__init__(config)
        self.runs = runs or {}  # run id -> checkpoint state, for load_run_checkpoint
        self.metrics: dict[str, list[tuple[int, float]]] = {}
        self.snapshots: dict[str, tuple[int, Any]] = {}
        self.checkpoints: list[dict[str, Any]] = []
        self.stage = ""
        self.fraction = 0.0
        self.polls = 0
        self.stop_after_polls = stop_after_polls
        self.quiet = quiet
        self.started = time.perf_counter()

    def log(self, step: int, **scalars: float) -> None:
        for name, value in scalars.items():
            self.metrics.setdefault(name, []).append((step, float(value)))

    def snapshot(self, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        self.snapshots[name] = (step, data)

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.checkpoints.append(copy.deepcopy(state))  # a file would freeze it; a list must copy

    def progress(self, fraction: float, stage: str) -> None:
        self.fraction, self.stage = fraction, stage
        if not self.quiet:
            print(f"\r[{time.perf_counter() - self.started:6.1f}s] {stage:<24} {fraction:6.1%}", end="", flush=True)

    def poll(self) -> bool:
        self.polls += 1
        return self.stop_after_polls is None or self.polls <= self.stop_after_polls

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        if run_id not in self.runs:
            raise ConfigError(f"no checkpoint of run {run_id} in this context")
        return self.runs[run_id]

    def last(self, name: str) -> float:
        return self.metrics[name][-1][1]
