"""The bench's τ table: in one world (the loop's V and M), one C per temperature, each trained in the dream at its
τ and scored in it and in the real game; the jobs spread over the cores, one forked one-thread process each."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch

from engine.context import LocalContext
from engine.labs.world_models.config import Config
from engine.labs.world_models.dream import World
from engine.labs.world_models.stages import CMA_STREAM, Probes, Progress, fit_controller, seed_of, steps_of

if TYPE_CHECKING:  # labs sit below the runtime: the context's interface is only needed for type hints
    from engine.context import Context

Shared = tuple[World, torch.Tensor | None, Probes]  # the τ table's world, C's start and the probes of M


def bench_cores() -> int:
    """How many τ jobs run at once: DREAMLAB_BENCH_CORES when a seed sweep shares the machine out, else every core
    this process may use. Each job is its own process with one torch thread."""
    return int(os.environ.get("DREAMLAB_BENCH_CORES", 0)) or len(os.sched_getaffinity(0))


def tau_row(shared: Shared, config: Config, ctx: Context, index: int, tau: float) -> dict[str, Any]:
    """One row of the τ table: a C trained in the shared world's dream at `tau`, scored in it and in the real game
    (the random policy too, in the first row), with what it took. Its steps follow the loop's rounds: its CMA
    generations after those of `rounds + index` rounds, its scores at step `rounds + index`."""
    world, start, probes = shared
    progress = Progress(ctx, 1, stage="C", label=f"tau {tau:g}")
    done = config.rounds + index
    _, row, _ = fit_controller(
        world,
        config,
        ctx,
        progress,
        seed=seed_of(config, CMA_STREAM, 1000 + index),
        step=done,
        first_generation=steps_of(config, "C", done),
        temperature=tau,
        start=start,
        with_random=index == 0,
        probes=probes,
    )
    seconds = progress.seconds
    return (
        {"tau": tau}
        | {k: round(v, 3 if k.startswith("probe") else 1) for k, v in row.items() if k != "temperature"}
        | {"C_seconds": round(seconds["C"], 1), "seconds": round(seconds["C"] + seconds["evaluate"], 1)}
    )


_FORKED: tuple[Shared, Config] | None = None  # a τ job's world and config, inherited by fork, never pickled


def _share(shared: Shared, config: Config) -> None:
    global _FORKED
    _FORKED = shared, config
    torch.set_num_threads(1)


def _forked_tau_row(index: int, tau: float) -> dict[str, Any]:
    shared, config = _FORKED
    return tau_row(shared, config, LocalContext(asdict(config)), index, tau)


def tau_table(shared: Shared, config: Config, ctx: Context, taus: list[float]) -> list[dict[str, Any]]:
    """Every τ's row, the jobs spread over bench_cores() processes (forked: each inherits the world); in this
    process, with its context's figures, when there is one core."""
    cores = min(bench_cores(), len(taus))
    if cores == 1:
        return [tau_row(shared, config, ctx, index, tau) for index, tau in enumerate(taus)]
    rows: dict[int, dict[str, Any]] = {}
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(cores, mp_context=fork, initializer=_share, initargs=(shared, config)) as pool:
        jobs = {pool.submit(_forked_tau_row, index, tau): index for index, tau in enumerate(taus)}
        for done in as_completed(jobs):
            rows[jobs[done]] = done.result()
            ctx.progress(len(rows) / len(taus), f"τ table: {len(rows)} of {len(taus)} controllers")
    return [rows[index] for index in range(len(taus))]
