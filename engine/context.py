"""The one small object a lab's `train(config, ctx)` talks to: the ground floor, beside engine.params.

Labs, the runtime and tests import it; it imports only engine.params. The runtime's store-backed context
(runtime/worker.py) subclasses `Context`.

A lab never sees the store or the job manager; it logs, snapshots, checkpoints, reports progress
and polls for controls through this interface. `LocalContext` keeps everything in memory so tests
and benchmarks can call `train` directly; the worker hands a store-backed one.

Resume: a checkpoint taken with `ctx.checkpoint(state, step=N, stage=S)` is one a run can continue from. When a
run resumes (a restart, a lost node, a Resume press) or is branched, its trainer finds that checkpoint in
`ctx.resume` (a `ResumePoint`: the state as it was passed, the step and the stage), restores it and carries on
at step N + 1 of stage S; the runtime has already removed every metric logged after that checkpoint, so the charts
continue with no gap and nothing twice. `random_state` / `restore_random_state` carry the generators a trainer
draws from.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from engine.params import ConfigError, with_live

C = TypeVar("C")

CHECKPOINT_SECONDS = 10.0  # a worker's `checkpoint_due()` interval: what a crash or a restart loses at most


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint to continue from: `state` as the trainer passed it, the last `step` it had logged, its `stage`."""

    state: dict[str, Any]
    step: int
    stage: str

    @classmethod
    def of(cls, record: dict[str, Any], lab: str) -> ResumePoint:
        """The resume point of a checkpoint file's contents, or a ConfigError saying why it is not one for `lab`."""
        mark = record.get("resume") if isinstance(record, dict) else None
        if not isinstance(mark, dict) or not isinstance(mark.get("step"), int):
            raise ConfigError("its checkpoint holds weights only, not the state a run can continue from")
        if mark.get("lab") != lab:
            raise ConfigError(f"its checkpoint is from the {mark.get('lab') or 'unknown'} lab, not {lab}")
        state = {key: value for key, value in record.items() if key != "resume"}
        return cls(state, mark["step"], str(mark.get("stage", "")))


def random_state(*generators: np.random.Generator | Any) -> dict[str, Any]:
    """The state of torch's global generator and of the given numpy / torch generators, for a checkpoint."""
    import torch

    return {
        "torch": torch.get_rng_state(),
        "generators": [
            g.bit_generator.state if isinstance(g, np.random.Generator) else g.get_state() for g in generators
        ],
    }


def restore_random_state(state: dict[str, Any], *generators: np.random.Generator | Any) -> None:
    """Put `random_state(*generators)` back into the same generators, in the same order."""
    import torch

    torch.set_rng_state(state["torch"])
    for generator, saved in zip(generators, state["generators"], strict=True):
        if isinstance(generator, np.random.Generator):
            generator.bit_generator.state = saved
        else:
            generator.set_state(saved)


class Stopped(Exception):
    """Stop was pressed: `Context.keep_going` raises it between a trainer's steps, and it unwinds the trainer's loops,
    however deep, to its `train`, which keeps what was learnt (a checkpoint to resume from) and returns."""


class Context:
    """Interface. `params` holds the current values of every hyperparameter, live changes applied (a trainer reads
    them typed, with `live`); `resume` the checkpoint to continue from (None: start from scratch)."""

    def __init__(
        self,
        config: dict[str, Any],
        lab: str = "",
        resume: ResumePoint | None = None,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ):
        self.params: dict[str, Any] = dict(config)
        self.lab, self.resume, self.checkpoint_seconds = lab, resume, checkpoint_seconds
        self._checkpointed = time.monotonic()

    def live(self, config: C) -> C:
        """A lab's typed `config` with its live parameters as they are now (changes made while the run trains): read
        a live parameter as `ctx.live(config).lr`, each step it is used."""
        return with_live(config, self.params)

    def log(self, step: int, **scalars: float) -> None:
        raise NotImplementedError

    def snapshot(self, name: str, step: int, data: np.ndarray | dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def checkpoint(self, state: dict[str, Any], step: int | None = None, stage: str = "") -> None:
        """Keep `state` as it is now (a lab may pass live state_dicts, which its later updates go on changing).
        With `step` — the last step whose metrics are logged, everything of it done — and the `stage` it belongs
        to, it is a checkpoint the run can resume from; without, weights only (a viewer's)."""
        record = dict(state)
        if step is not None:
            record["resume"] = {"lab": self.lab, "step": int(step), "stage": stage}
        self._checkpointed = time.monotonic()
        self._keep(record)

    def checkpoint_due(self) -> bool:
        """True once `checkpoint_seconds` have passed since the last checkpoint: a trainer asks at each point where
        it could continue from, and checkpoints when told."""
        return time.monotonic() - self._checkpointed >= self.checkpoint_seconds

    def _keep(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def progress(self, fraction: float, stage: str) -> None:
        raise NotImplementedError

    def poll(self) -> bool:
        """Apply pending controls (blocking while paused); False means: stop now, cleanly. Trainers call
        keep_going, which asks this."""
        raise NotImplementedError

    def keep_going(self) -> None:
        """How every trainer stops: called between steps, it applies pending controls (a pause blocks here) and
        raises Stopped when Stop was pressed."""
        if not self.poll():
            raise Stopped

    def load_run_checkpoint(self, run_id: int) -> dict[str, Any]:
        """Another run's last checkpoint (a sweep's jobs start from their base run's models)."""
        raise NotImplementedError


class LocalContext(Context):
    """In-memory context: for tests, benchmarks and notebooks. `stop_after_polls` simulates a Stop press; checkpoints
    are never due unless `checkpoint_seconds` says so (0: at every point a trainer could continue from)."""

    def __init__(
        self,
        config: dict[str, Any],
        stop_after_polls: int | None = None,
        quiet: bool = True,
        runs: dict[int, dict[str, Any]] | None = None,
        resume: ResumePoint | None = None,
        checkpoint_seconds: float = float("inf"),
    ):
        super().__init__(config, resume=resume, checkpoint_seconds=checkpoint_seconds)
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

    def _keep(self, record: dict[str, Any]) -> None:
        self.checkpoints.append(copy.deepcopy(record))  # a file would freeze it; a list must copy

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
