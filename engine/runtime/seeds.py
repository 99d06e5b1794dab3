"""A bench over seeds: `python -m engine bench LAB --seeds N` runs one `bench … --set seed=k --json` process per
seed, at most one per usable core at once, and reports each seed's figures beside their mean ± standard error.

One seed is one draw, and a seeded run repeats only on one processor (torch's arithmetic differs between them):
the figures a user gets elsewhere are the mean over seeds, give or take its spread.

Each child runs torch with one thread (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1; the bench command also sets
torch.set_num_threads(1)) and is told in DREAMLAB_BENCH_CORES how many cores it may use itself: the usable cores
(engine.runtime.settings.available_cpus) divided among the seeds running side by side, at least 1. A bench that fans
out jobs of its own (World Models' τ table) reads it; the others need not.

Imported by engine.cli; imports the lab registry and the settings, never a lab's trainer (the children do that).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.labs import get_lab
from engine.params import ConfigError, parse_assignments
from engine.runtime.settings import available_cpus

BENCH_CORES = "DREAMLAB_BENCH_CORES"
RUN_KEYS = ("lab", "preset", "config", "started_at", "ended_at")  # what a bench prints about its run, not a figure


def parse_seeds(text: str) -> list[int]:
    """'5' is the seeds 0-4; '0,3,7' is those seeds. Bounds are the lab's (checked by `check_configs`)."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: a number of seeds (5) or a list of seeds (0,3,7)") from None
    if "," not in text:
        if seeds[0] < 1:
            raise ConfigError(f"--seeds {text}: at least one seed")
        return list(range(seeds[0]))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text}: a seed twice")
    return seeds


def check_configs(lab: str, preset: str | None, sets: list[str], seeds: list[int]) -> None:
    """Every seed's config resolves, or ConfigError before any process starts."""
    assignments = parse_assignments(sets)
    if "seed" in assignments:
        raise ConfigError("--seeds and --set seed=…: give the seeds once")
    for seed in seeds:
        get_lab(lab).space.resolve(preset, assignments | {"seed": seed})


def bench_command(lab: str, preset: str | None, sets: list[str], seed: int) -> list[str]:
    """The one-seed bench a child runs."""
    chosen = ["--preset", preset] if preset else []
    options = [arg for assignment in [*sets, f"seed={seed}"] for arg in ("--set", assignment)]
    return [sys.executable, "-m", "engine", "bench", lab, *chosen, *options, "--json"]


def run_one(command: list[str], cores: int) -> dict[str, Any]:
    """One child to its end: its figures, or its error as one line (the last line it printed: a traceback's own)."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", BENCH_CORES: str(cores)}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = process.communicate()
    record: dict[str, Any] = {"pid": process.pid, "wall_seconds": round(time.perf_counter() - started, 1)}
    if process.returncode != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        return record | {"error": lines[-1].removeprefix("error: ") if lines else f"exit status {process.returncode}"}
    try:
        figures = json.loads(stdout)
    except json.JSONDecodeError:
        return record | {"error": f"no JSON figures in its output: {stdout[-200:]!r}"}
    return record | {key: figures.pop(key) for key in RUN_KEYS if key in figures} | {"figures": figures}


def run_seeds(
    lab: str,
    preset: str | None,
    sets: list[str],
    seeds: list[int],
    jobs: int | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Each seed's bench in its own process, `jobs` at once (default: one per usable core), then their statistics.

    Returns {"lab", "preset", "seeds", "jobs", "per_seed", "mean", "se", "wall_seconds"}: per seed, its pid, wall
    seconds and either its figures (with the child's own started_at/ended_at times) or its error; the mean and
    standard error of each figure over the seeds that finished.
    """
    jobs = min(len(seeds), jobs or available_cpus())
    cores = max(1, available_cpus() // jobs)
    started = time.perf_counter()

    def one(seed: int) -> dict[str, Any]:
        record = {"seed": seed} | run_one(bench_command(lab, preset, sets, seed), cores)
        if on_done:
            on_done(record)
        return record

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        per_seed = list(pool.map(one, seeds))
    mean, se = statistics([record["figures"] for record in finished(per_seed)])
    return {
        "lab": lab,
        "preset": preset,
        "seeds": seeds,
        "jobs": jobs,
        "per_seed": per_seed,
        "mean": mean,
        "se": se,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def finished(per_seed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the seeds that finished: those with figures (a failed seed's record has an error instead)."""
    return [record for record in per_seed if "figures" in record]


def statistics(samples: list[Any]) -> tuple[Any, Any]:
    """Mean and standard error (sample std / √n; None for one sample) of every number in a list of JSON values
    of one shape: dicts by key, lists by position, over the samples that have it. Other leaves are left out."""
    numbers = [s for s in samples if isinstance(s, int | float) and not isinstance(s, bool)]
    if numbers:
        n = len(numbers)
        mean = sum(numbers) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in numbers) / (n - 1) / n) if n > 1 else None
        return mean, se
    if dicts := [s for s in samples if isinstance(s, dict)]:
        keys = dict.fromkeys(key for d in dicts for key in d)
        pairs = {key: statistics([d[key] for d in dicts if key in d]) for key in keys}
        pairs = {key: pair for key, pair in pairs.items() if pair != (None, None)}
        return {key: mean for key, (mean, _) in pairs.items()}, {key: se for key, (_, se) in pairs.items()}
    if lists := [s for s in samples if isinstance(s, list)]:
        pairs = [statistics([items[i] for items in lists if i < len(items)]) for i in range(max(map(len, lists)))]
        if any(pair != (None, None) for pair in pairs):
            return [mean for mean, _ in pairs], [se for _, se in pairs]
    return None, None


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The human summary: per figure, the mean ± standard error and each seed's value (lists of numbers on one line)."""
    done = finished(result["per_seed"])
    lines = [
        f"{result['lab']} {result['preset'] or ''} over seeds {', '.join(map(str, result['seeds']))}: "
        f"{len(done)} of {len(result['seeds'])} done, {result['jobs']} at a time, {result['wall_seconds']:.0f} s",
        f"{'figure':<60} {'mean ± s.e.':>20}   per seed ({', '.join(str(r['seed']) for r in done)})",
    ]
    for record in result["per_seed"]:
        if "error" in record:
            lines.append(f"seed {record['seed']} failed: {record['error']}")

    def walk(path: str, mean: Any, se: Any, values: list[Any]) -> None:
        if isinstance(mean, dict):
            for key in mean:
                each = [v.get(key) if isinstance(v, dict) else None for v in values]
                walk(f"{path}.{key}".lstrip("."), mean[key], se[key], each)
        elif isinstance(mean, list) and all(isinstance(m, float | int | None) for m in mean):
            lines.append(f"{path:<60} [{', '.join(_plus_minus(m, s) for m, s in zip(mean, se, strict=True))}]")
        elif isinstance(mean, list):
            for i, (m, s) in enumerate(zip(mean, se, strict=True)):
                walk(f"{path}[{i}]", m, s, [v[i] if isinstance(v, list) and i < len(v) else None for v in values])
        elif mean is not None:
            each = ", ".join("–" if v is None else f"{v:.4g}" for v in values)
            lines.append(f"{path:<60} {_plus_minus(mean, se):>20}   {each}")

    walk("", result["mean"], result["se"], [record["figures"] for record in done])
    return lines


def _plus_minus(mean: float | None, se: float | None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.4g}" if se is None else f"{mean:.4g} ± {se:.2g}"
