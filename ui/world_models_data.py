"""What the World Models page reads: worlds loaded once per file version (the bundled world, a run's checkpoint),
the worker's snapshots, the τ-table jobs, and the rows and series the figures draw from them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from engine.labs.world_models import BUNDLED_WORLD
from engine.labs.world_models.dream import World
from engine.labs.world_models.facts import PAPER_TAU_TABLE
from engine.labs.world_models.resume import load_world
from engine.labs.world_models.viewer import decode
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.store import Run, Status
from ui.engine import job_manager, store
from ui.live import run_now, shared

# --------------------------------------------------------------------------------------------------- the stages' series

STAGES = {  # each stage's chart: its series, and the config entry that counts its steps per round
    "V": (("recon_loss", "kl"), "vae_epochs"),
    "M": (("mdn_loss", "done_loss", "reward_loss"), "rnn_updates"),
    "C": (("fitness_best", "fitness_mean", "fitness_worst", "held_out"), "cma_generations"),
}


def stage_series(metrics: dict[str, Any], stage: str) -> dict[str, Any]:
    return {name: metrics[name] for name in STAGES[stage][0] if name in metrics}


def stage_events(events: list[dict[str, Any]], metrics: dict[str, Any], config: dict[str, Any]) -> dict[str, list]:
    """Each event (a live change, a stop, …) on the chart of the stage it happened in, or on none. The worker stamps
    an event with the step of the trainer's last log, and V, M and C log on axes of their own (epochs, updates,
    generations): an event belongs to a stage whose series holds its step; when several do, to the latest of them in
    the run's order (round by round, V then M then C)."""
    placed: dict[str, list] = {stage: [] for stage in STAGES}
    for event in events:
        holders = [
            (math.ceil(event["step"] / max(1, config[per_round])), order, stage)
            for order, (stage, (names, per_round)) in enumerate(STAGES.items())
            if any(event["step"] in metrics[name][0] for name in names if name in metrics)
        ]
        if holders:
            placed[max(holders)[2]].append(event)
    return placed


# ------------------------------------------------------------------------------------------------------- worlds, cached


@st.cache_resource(max_entries=8, show_spinner=False)
def cached_checkpoint(path: str, mtime: float) -> tuple[World, Any, dict[str, Any]]:
    """(world, controller or None, the checkpoint) — loaded once per file version, shared by every session."""
    checkpoint = load_checkpoint(Path(path))
    world, params = load_world(checkpoint)
    return world, params, checkpoint


def world_of(path: Path) -> tuple[World, Any, dict[str, Any]]:
    return cached_checkpoint(str(path), path.stat().st_mtime)


@st.cache_data(max_entries=128, show_spinner=False)
def dream_frames(path: str, mtime: float, latents: np.ndarray) -> np.ndarray:
    """V's pictures of one dream's latents, once per (world file, latents): a slider move costs one decode at most."""
    world, _, _ = cached_checkpoint(path, mtime)
    return decode(world, latents)


def bundled_viewer_snapshot() -> dict[str, np.ndarray]:
    """The bundled world's viewer snapshot (viewer.viewer_snapshot's arrays)."""
    return {name: tensor.numpy() for name, tensor in world_of(BUNDLED_WORLD)[2]["viewer"].items()}


def real_end(viewer: dict[str, np.ndarray]) -> int | None:
    """The step of the viewer's real episode's hit (None: it lived through the clip)."""
    return len(viewer["real"]) - 1 if viewer["real_rate"] > 0 else None


# ---------------------------------------------------------------------------------------------------------- the τ table


def tau_rows(results: dict[float, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per τ of the table: our dream and real scores (± s.e.) beside the paper's. `results`: τ → (a label
    for the job, its summary: dream_score, dream_score_se, real_score, real_score_se; empty until it is done)."""
    rows = []
    for tau, (paper_dream, paper_dream_std, paper_real, paper_real_std) in PAPER_TAU_TABLE.items():
        label, summary = results.get(tau, ("—", {}))
        rows.append(
            {
                "τ": tau,
                "job": label,
                "dream": summary.get("dream_score"),
                "dream_se": summary.get("dream_score_se"),
                "real": summary.get("real_score"),
                "real_se": summary.get("real_score_se"),
                "paper dream": f"{paper_dream} ± {paper_dream_std}",
                "paper real": f"{paper_real} ± {paper_real_std}",
                "C hit real": summary.get("probe_real_hit"),
                "C hit dream": summary.get("probe_dream_hit"),
            }
        )
    return rows


def sweep_results(sweep: list[Run]) -> dict[float, tuple[str, dict[str, Any]]]:
    return {
        r.config["temperature"]: (f"#{r.id} {r.status}", r.summary if r.status == Status.DONE else {}) for r in sweep
    }


def bundled_results(table: list[dict[str, Any]]) -> dict[float, tuple[str, dict[str, Any]]]:
    return {row["tau"]: ("bundled", row) for row in table}


def random_score(base: Run) -> tuple[float, float] | None:
    summary = base.summary or {}
    return (summary["random_score"], summary["random_score_se"]) if "random_score" in summary else None


def table_frame(rows: list[dict[str, Any]]):
    import pandas as pd

    def cell(mean, se):
        return None if mean is None else f"{mean:.0f} ± {se:.0f}"

    return pd.DataFrame(
        [
            {
                "τ": r["τ"],
                "job": r["job"],
                "dream (ours)": cell(r["dream"], r["dream_se"]),
                "real (ours)": cell(r["real"], r["real_se"]),
                "dream (paper)": r["paper dream"],
                "real (paper)": r["paper real"],
                "C hit from probe states: real / dream": None
                if r["C hit real"] is None
                else f"{r['C hit real']:.2f} / {r['C hit dream']:.2f}",
            }
            for r in rows
        ]
    )


# ---------------------------------------------------------------------------------- a run's world, snapshots and τ jobs


def world_run(run: Run) -> Run | None:
    """The run whose world (V and M) this run dreams in: a τ-table job's base run, else itself."""
    base = run.config.get("world_run", 0)
    return store().get_run(base) if base else run


def latest_snapshot(run: Run, name: str) -> tuple[int, dict[str, Any]] | None:
    """The run's `name` snapshot (step, arrays): "viewer" (M's dreams as it learns), "probe" (once M has trained).
    Read once per new step (of this start of the run: a resumed run may write a step again) for every session."""
    key = (run.id, run.created, run.started, store().snapshot_step(run.id, name))
    return shared(f"world_models.{name}", key, lambda: store().snapshot(run.id, name))


def viewer_version(run: Run) -> tuple[str, int | None]:
    """Changes exactly when the worker writes a new viewer snapshot, or the run's status changes (no snapshot read)."""
    latest = run_now(run.id)
    return (latest.status if latest else ""), store().snapshot_step(run.id, "viewer")


def world_checkpoint(run: Run) -> Path | None:
    """The run's checkpoint file, once there is one (its V and M after their first stage)."""
    path = store().checkpoint_path(run.id)
    return path if path.exists() else None


def sweep(run: Run) -> list[Run]:
    """The τ-table jobs in this run's world, oldest first."""
    return job_manager().sweep_of(run.id)


def sweep_version(run: Run) -> tuple:
    """Changes when a τ job starts or finishes (not with its progress): then the table is redrawn."""
    return tuple((r.id, r.status) for r in sweep(run))
