"""Figures and cached dreams of the World Models lab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.labs.world_models import dream, train
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.context import LocalContext
from ui.figures import PALETTE

BUNDLED = Path(train.__file__).with_name("bundled_world.pt")  # `train world_models --preset quick`'s checkpoint

# Ha & Schmidhuber 2018, Table 2 (DoomTakeCover): temperature → (score in the dream, score in the real game)
PAPER_TAU_TABLE = {0.10: (2086, 193), 0.50: (2060, 196), 1.00: (1145, 868), 1.15: (918, 1092), 1.30: (732, 753)}
PAPER_RANDOM_SCORE = 210
SWEEP_TAUS = tuple(PAPER_TAU_TABLE)


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
    """CMA-ES: best, mean and worst dream return per generation, the band between best and worst shaded."""
    figure = go.Figure()
    if "fitness_worst" in series:
        figure.add_scatter(x=series["fitness_worst"][0], y=series["fitness_worst"][1], name="worst",
                           line={"color": "grey", "width": 1})
    if "fitness_best" in series:
        figure.add_scatter(x=series["fitness_best"][0], y=series["fitness_best"][1], name="best", fill="tonexty",
                           line={"color": PALETTE[2]}, fillcolor="rgba(0,204,150,0.1)")
    if "fitness_mean" in series:
        figure.add_scatter(x=series["fitness_mean"][0], y=series["fitness_mean"][1], name="mean",
                           line={"color": PALETTE[1], "width": 3})
    figure.update_layout(title="C: CMA-ES fitness in the dream", height=300, xaxis_title="generation",
                         yaxis_title="mean dream return", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": -0.3})
    return figure


def done_chart(done_probability: np.ndarray) -> go.Figure:
    figure = go.Figure(go.Scatter(x=np.arange(1, len(done_probability) + 1), y=done_probability, mode="lines",
                                  line={"color": PALETTE[1]}, name="P(done)"))
    figure.add_hline(y=0.5, line={"dash": "dot", "color": "grey"}, annotation_text="the dream ends above 0.5")
    figure.update_layout(title="M's predicted termination probability", height=240, xaxis_title="dream step",
                         yaxis={"range": [0, 1], "title": "P(done)"}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def tau_table_chart(rows: list[dict]) -> go.Figure:
    """Dream vs real score per τ for our runs, the paper's DoomTakeCover numbers as hollow markers."""
    figure = go.Figure()
    done = [r for r in rows if r["real"] is not None]
    figure.add_scatter(x=[r["τ"] for r in done], y=[r["dream"] for r in done], name="ours: in the dream",
                       mode="lines+markers", line={"color": PALETTE[0]})
    figure.add_scatter(x=[r["τ"] for r in done], y=[r["real"] for r in done], name="ours: in the real game",
                       mode="lines+markers", line={"color": PALETTE[1], "width": 3},
                       error_y={"type": "data", "array": [r["real_std"] for r in done]})
    figure.update_layout(title="Score in the dream vs in the real game, per temperature", height=340,
                         xaxis_title="τ", yaxis_title="score (steps survived)",
                         margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return figure


@st.cache_data(max_entries=64, show_spinner="Dreaming…")
def cached_redream(path: str, mtime: float, temperature: float, seed: int) -> dict[str, np.ndarray]:
    """`mtime` is part of the key: a newer checkpoint of the same run dreams anew."""
    return dream.redream(load_checkpoint(Path(path)), temperature, seed=seed)


@st.cache_data(max_entries=8, show_spinner="Playing the real game…")
def cached_real_game(path: str, mtime: float) -> np.ndarray:
    """One real episode under the checkpoint's controller, the viewer's reference beside the dream (a run's own
    evaluation snapshot serves instead when there is one)."""
    checkpoint = load_checkpoint(Path(path))
    world, params = dream.load_world(checkpoint)
    config = checkpoint["config"]
    episode = train.play_real(config, world, params, 1, config["dream_length"], 0.0, config["seed"],
                              LocalContext(config))[0]
    return train.viewable(episode.frames)


def dream_session(path: Path, temperature: float, restart: bool) -> dream.DreamSession:
    """A dream the visitor steps through, kept in the session; a new checkpoint or Restart starts a fresh one."""
    key = ("world_models.session", str(path), path.stat().st_mtime)
    if restart or st.session_state.get("world_models.session_key") != key:
        st.session_state["world_models.session_key"] = key
        st.session_state["world_models.session"] = dream.DreamSession(load_checkpoint(path), temperature)
        st.session_state["world_models.session_log"] = []
    session = st.session_state["world_models.session"]
    session.temperature = temperature
    return session
