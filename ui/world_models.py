"""Figures, cached worlds and the τ table of the World Models lab. Nothing here plays the real game: real frames
come from the worker's snapshots (or the bundled checkpoint), dreams are decoded once per (run, step, τ)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.labs.world_models import BUNDLED_WORLD, train
from engine.labs.world_models.dream import DreamSession, World
from engine.labs.world_models.facts import GAMES, PAPER_TAU_TABLE
from engine.labs.world_models.probe import probe_summary
from engine.labs.world_models.viewer import decode
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.store import Run
from ui.engine import job_manager, store
from ui.figures import PALETTE
from ui.live import run_now, shared

BUNDLED = BUNDLED_WORLD  # a Doom quick-preset world, its viewer and τ table


def frame_strip(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of frames (n, H, W[, C]) tiled into one image, rows stacked, 2-px gutters, for st.image."""
    tiles = []
    for frames in rows:
        frames = frames if frames.ndim == 4 else frames[..., None]
        padded = np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=40)
        tiles.append(np.concatenate(list(padded), axis=1))
    image = np.concatenate(tiles, axis=0)
    return image[..., 0] if image.shape[-1] == 1 else image


def fitness_chart(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """CMA-ES: best, mean and worst dream return per generation, and the held-out score of the search's mean."""
    figure = go.Figure()
    styles = {
        "fitness_worst": ("worst", {"color": "grey", "width": 1}),
        "fitness_best": ("best", {"color": PALETTE[2]}),
        "fitness_mean": ("mean", {"color": PALETTE[1], "width": 3}),
        "held_out": ("held-out dreams (the search's mean)", {"color": PALETTE[0], "dash": "dot"}),
    }
    for name, (label, line) in styles.items():
        if name in series:
            figure.add_scatter(x=series[name][0], y=series[name][1], name=label, line=line)
    figure.update_layout(
        title="C: CMA-ES fitness in the dream",
        height=300,
        xaxis_title="generation",
        yaxis_title="mean dream return",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def death_chart(death: np.ndarray, length: int) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=np.arange(1, length + 1), y=death[:length], mode="lines", line={"color": PALETTE[1]}, name="P(end)"
        )
    )
    figure.update_layout(
        title="M's predicted probability that the dream ends here, per dream step",
        height=220,
        xaxis_title="dream step",
        yaxis={"range": [0, 1], "title": "P(end)"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


def probe_chart(probe: dict[str, Any]) -> go.Figure:
    """The probe, from its snapshot or its summary (probe_summary, as the bundled world keeps it): each held
    behaviour's P(hit within H) from the same real states, in the game and in M's dream at each τ; beside it, the
    share of behaviour pairs the dream orders as the game does."""
    from plotly.subplots import make_subplots

    summary = probe if "ceiling" in probe else probe_summary(probe)
    horizon, names = summary["horizon"], list(summary["real"])
    figure = make_subplots(
        1,
        2,
        column_widths=[0.62, 0.38],
        subplot_titles=(
            f"P(hit within {horizon} steps) holding each action",
            "pairs the dream orders as the game does",
        ),
    )
    figure.add_bar(
        x=names, y=[summary["real"][n] for n in names], name="the real game", marker_color="black", row=1, col=1
    )
    for i, row in enumerate(summary["taus"]):
        figure.add_bar(
            x=names,
            y=[row[f"dream_{n}"] for n in names],
            name=f"dream τ = {row['tau']:g}",
            marker_color=PALETTE[i % len(PALETTE)],
            opacity=0.85,
            row=1,
            col=1,
        )
    taus = [row["tau"] for row in summary["taus"]]
    figure.add_scatter(
        x=taus,
        y=[row["pair_order"] for row in summary["taus"]],
        mode="lines+markers",
        name="ordered as the game",
        line={"color": PALETTE[1], "width": 3},
        showlegend=False,
        row=1,
        col=2,
    )
    figure.add_hline(y=0.5, line={"dash": "dot", "color": "grey"}, annotation_text="chance", row=1, col=2)
    figure.add_hline(
        y=summary["ceiling"],
        line={"dash": "dash", "color": PALETTE[2]},
        annotation_text=f"each action's average odds {summary['ceiling']:.0%}",
        row=1,
        col=2,
    )
    figure.update_yaxes(range=[0, 1], row=1, col=1)
    figure.update_yaxes(range=[0.3, 1], tickformat=".0%", row=1, col=2)
    figure.update_xaxes(title_text="τ", row=1, col=2)
    figure.update_layout(
        title=f"Does the dream know what moving does? ({summary['states']} real states, "
        f"{summary['near_hit']} of them {summary['lead']} steps before a hit)",
        height=360,
        barmode="group",
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def tau_table_chart(rows: list[dict[str, Any]], random: tuple[float, float] | None) -> go.Figure:
    """Dream and real score per τ (± standard error), the paper's Table 2 (± std) hollow, random as a band."""
    figure = go.Figure()
    taus = list(PAPER_TAU_TABLE)
    paper = np.array(list(PAPER_TAU_TABLE.values()), dtype=float)
    figure.add_scatter(
        x=taus,
        y=paper[:, 0],
        error_y={"type": "data", "array": paper[:, 1]},
        name="paper: dream",
        mode="markers",
        marker={"symbol": "circle-open", "size": 10, "color": PALETTE[0]},
    )
    figure.add_scatter(
        x=taus,
        y=paper[:, 2],
        error_y={"type": "data", "array": paper[:, 3]},
        name="paper: real",
        mode="markers",
        marker={"symbol": "diamond-open", "size": 10, "color": PALETTE[1]},
    )
    done = [r for r in rows if r.get("real") is not None]
    if done:
        figure.add_scatter(
            x=[r["τ"] for r in done],
            y=[r["dream"] for r in done],
            name="ours: in the dream",
            mode="lines+markers",
            line={"color": PALETTE[0]},
            error_y={"type": "data", "array": [r["dream_se"] for r in done]},
        )
        figure.add_scatter(
            x=[r["τ"] for r in done],
            y=[r["real"] for r in done],
            name="ours: in the real game",
            mode="lines+markers",
            line={"color": PALETTE[1], "width": 3},
            error_y={"type": "data", "array": [r["real_se"] for r in done]},
        )
    if random is not None:
        figure.add_hrect(
            y0=random[0] - random[1], y1=random[0] + random[1], fillcolor="grey", opacity=0.2, line_width=0
        )
        figure.add_hline(
            y=random[0],
            line={"dash": "dot", "color": "grey"},
            annotation_text=f"random policy {random[0]:.0f} ± {random[1]:.0f}",
        )
    figure.add_hline(
        y=750,
        line={"dash": "dash", "color": PALETTE[2], "width": 1},
        annotation_text="solved: 750",
        annotation_position="bottom right",
    )
    figure.update_layout(
        title="The τ table: score in the dream vs in the real game",
        height=380,
        xaxis_title="τ",
        yaxis_title="score (steps survived)",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


# ---------------------------------------------------------------------------------------------- worlds, cached


@st.cache_resource(max_entries=8, show_spinner=False)
def cached_checkpoint(path: str, mtime: float) -> tuple[World, Any, dict[str, Any]]:
    """(world, controller or None, the checkpoint) — loaded once per file version, shared by every session."""
    checkpoint = load_checkpoint(Path(path))
    world, params = train.load_world(checkpoint)
    return world, params, checkpoint


def world_of(path: Path) -> tuple[World, Any, dict[str, Any]]:
    return cached_checkpoint(str(path), path.stat().st_mtime)


@st.cache_data(max_entries=128, show_spinner=False)
def dream_frames(path: str, mtime: float, latents: np.ndarray) -> np.ndarray:
    """V's pictures of one dream's latents, once per (world file, latents): a slider move costs one decode at most."""
    world, _, _ = cached_checkpoint(path, mtime)
    return decode(world, latents)


def bundled_picture() -> np.ndarray:
    """The home page's picture: every 10th frame of the bundled world's real episode above M's dream of it at τ 1."""
    _, _, checkpoint = world_of(BUNDLED)
    viewer = {name: tensor.numpy() for name, tensor in checkpoint["viewer"].items()}
    k = list(viewer["taus"].round(2)).index(1.0)
    dream = dream_frames(str(BUNDLED), BUNDLED.stat().st_mtime, viewer["latents"][k][: viewer["lengths"][k] + 1])
    shown = min(len(dream), len(viewer["real"]), 60)
    return frame_strip([viewer["real"][:shown:10], dream[:shown:10]])


def dream_buttons(env: str) -> dict[str, Any]:
    """What a visitor can press in a dream: the game's own actions (facts.GAMES), arrows on the sides."""

    def label(name: str) -> str:
        return f"◀ {name}" if "left" in name else f"{name} ▶" if "right" in name else name

    return {
        label(name): np.asarray(action, np.float32) if isinstance(action, tuple) else action
        for name, action in GAMES[env].actions.items()
    }


def dream_session(path: Path, temperature: float, restart: bool) -> DreamSession:
    """A dream the visitor steps through, kept in the session; a new checkpoint or Restart starts a fresh one."""
    key = ("world_models.session", str(path), path.stat().st_mtime)
    if restart or st.session_state.get("world_models.session_key") != key:
        st.session_state["world_models.session_key"] = key
        st.session_state["world_models.session"] = DreamSession(world_of(path)[0], temperature)
        st.session_state["world_models.session_log"] = []
    session = st.session_state["world_models.session"]
    session.temperature = temperature
    return session


# ---------------------------------------------------------------------------------------------- the τ table


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
    return {r.config["temperature"]: (f"#{r.id} {r.status}", r.summary if r.status == "done" else {}) for r in sweep}


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
