"""The World Models lab's figures: V's, M's and C's charts, the real game beside M's dreams, the probe, the τ
table. Nothing here plays the real game: real frames come from the worker's snapshots (or the bundled checkpoint),
dreams are decoded once per (run, step, τ) (ui/world_models_data.py)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine.labs.world_models import BUNDLED_WORLD
from engine.labs.world_models.facts import PAPER_TAU_TABLE
from engine.labs.world_models.pictures import pictures_summary
from engine.labs.world_models.probe import probe_summary
from engine.labs.world_models.viewer import share_at_rate
from ui.figures import PALETTE, Prebuilt, chart_layout, frames_animation
from ui.live import shared
from ui.world_models_data import bundled_viewer_snapshot, dream_frames, real_end


def png(image: np.ndarray) -> bytes:
    """An image (H, W[, 1 or 3]) of uint8 as PNG bytes, for a download button."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image[..., 0] if image.shape[-1] == 1 else image)).save(buffer, format="PNG")
    return buffer.getvalue()


def download_png(image: np.ndarray, name: str, key: str) -> None:
    st.download_button("Download PNG", png(image), file_name=f"{name}.png", mime="image/png", key=key)


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
    chart_layout(
        figure,
        title="C: CMA-ES fitness in the dream",
        height=300,
        xaxis_title="generation",
        yaxis_title="mean dream return",
        legend_y=-0.3,
    )
    return figure


def odds_top(odds: np.ndarray) -> float:
    """The top of a P(end) axis: a little above the highest odds, so that small ones still read (at most 1)."""
    return float(min(1.0, max(0.05, 1.2 * odds.max(initial=0.0))))


def death_chart(death: np.ndarray, lengths: np.ndarray, real_end: int | None) -> go.Figure:
    """M's P(the dream ends) per step of each dream (D, T) up to its end, a cross where M ended it; the real hit."""
    figure = go.Figure()
    for d, (odds, length) in enumerate(zip(death, lengths, strict=True)):
        color = PALETTE[d % len(PALETTE)]
        figure.add_scatter(
            x=np.arange(1, length + 1), y=odds[:length], mode="lines", line={"color": color}, name=f"dream {d + 1}"
        )
        if length < death.shape[1]:
            figure.add_scatter(
                x=[length],
                y=[odds[length - 1]],
                mode="markers",
                marker={"symbol": "x", "size": 11, "color": color},
                name=f"dream {d + 1} ends",
                showlegend=False,
            )
    if real_end is not None:
        figure.add_vline(x=real_end, line={"dash": "dash", "color": "black"}, annotation_text="the real hit")
    chart_layout(
        figure,
        title="M's probability that the dream ends here, per dream step",
        height=240,
        xaxis_title="dream step",
        yaxis={"range": [0, odds_top(death)], "title": "P(end)"},
        legend_y=-0.3,
    )
    return figure


def ends_chart(viewer: dict[str, np.ndarray]) -> go.Figure:
    """Per τ, the share of its dreams that M ends before the real episode ended, beside the share a game ending at
    the real episode's rate would end (its band: half to twice that rate)."""
    steps, rate = len(viewer["real"]) - 1, float(viewer["real_rate"])
    taus = viewer["taus"].astype(float).round(2)
    figure = go.Figure()
    if rate > 0:
        low, high = share_at_rate(rate / 2, steps), share_at_rate(2 * rate, steps)
        figure.add_hrect(y0=low, y1=high, fillcolor=PALETTE[2], opacity=0.15, line_width=0)
        figure.add_hline(
            y=share_at_rate(rate, steps),
            line={"dash": "dot", "color": PALETTE[2]},
            annotation_text="at the real game's rate (band: ½–2×)",
            annotation_position="top left",
        )
    figure.add_scatter(
        x=taus, y=viewer["ended"], mode="lines+markers", line={"color": PALETTE[1], "width": 3}, name="dreams"
    )
    chart_layout(
        figure,
        title=f"Dreams ended before the real hit (step {steps})",
        height=260,
        xaxis_title="τ",
        yaxis={"range": [0, 1], "tickformat": ".0%", "title": "of the dreams"},
        showlegend=False,
    )
    return figure


GUTTER, ENDED = 2, (220, 40, 40)  # px between the timeline's pictures; the border of a picture whose game ended


def timeline_frames(real: np.ndarray, dreams: np.ndarray, lengths: np.ndarray, real_end: int | None) -> np.ndarray:
    """The real frames (T+1, H, W, C) and D dreams' (D, T+1, H, W, C) side by side, RGB (T+1, H, W', 3): a dream
    that ended keeps its last picture, framed red, as does the real game at its hit."""
    pictures = np.concatenate([real[None], dreams])  # (D+1, T+1, H, W, C)
    pictures = np.repeat(pictures, 3, -1) if pictures.shape[-1] == 1 else pictures.copy()
    steps = pictures.shape[1] - 1
    ends = [real_end or steps + 1, *[length if length < steps else steps + 1 for length in lengths]]
    for picture, end in zip(pictures, ends, strict=True):
        if end <= steps:
            picture[end + 1 :] = picture[end]
            for frame in picture[end:]:
                frame[:2], frame[-2:], frame[:, :2], frame[:, -2:] = ENDED, ENDED, ENDED, ENDED
    padded = np.pad(pictures, ((0, 0), (0, 0), (0, 0), (0, GUTTER), (0, 0)), constant_values=255)
    return np.concatenate(list(padded), axis=2)[:, :, :-GUTTER]


def timeline_chart(
    real: np.ndarray, dreams: np.ndarray, lengths: np.ndarray, real_end: int | None, temperature: float
) -> go.Figure:
    """One animation, one slider: the real game and M's dreams of it at one τ, step by step."""
    steps, width = len(real) - 1, real.shape[2] + GUTTER
    figure = frames_animation(
        timeline_frames(real, dreams, lengths, real_end),
        f"The real game (left) and {len(dreams)} of M's dreams of it at τ = {temperature:g} (same start, same actions)",
        height=420,
    )
    labels = ["<b>the real game</b><br>" + (f"hit at step {real_end}" if real_end else f"lives past step {steps}")] + [
        f"<b>dream {d + 1}</b><br>" + (f"ends at step {length}" if length < steps else f"lives past step {steps}")
        for d, length in enumerate(lengths)
    ]
    for i, label in enumerate(labels):
        figure.add_annotation(
            x=i * width + real.shape[2] / 2,
            y=1.0,
            xref="x",
            yref="paper",
            yanchor="bottom",
            text=label,
            showarrow=False,
        )
    figure.update_layout(margin={"l": 0, "r": 0, "t": 70, "b": 0})
    return figure


def probe_chart(probe: dict[str, Any]) -> go.Figure:
    """The probe, from its snapshot or its summary (probe_summary, as the bundled world keeps it): each held
    behaviour's P(hit within H) from the same real states, in the game and in M's dream at each τ; beside it, the
    share of behaviour pairs the dream orders as the game does."""
    from plotly.subplots import make_subplots

    with warnings.catch_warnings():  # a probe with no near-hit states: their means are empty (and not drawn here)
        warnings.simplefilter("ignore", RuntimeWarning)
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
    near = (
        f"{summary['near_hit']} of them {summary['lead']} steps before a hit"
        if summary["near_hit"]
        else f"none of them {summary['lead']} steps before a hit: its episodes gave none"
    )
    chart_layout(
        figure,
        title=f"Does the dream know what moving does? ({summary['states']} real states, {near})",
        height=360,
        barmode="group",
        margin={"t": 60},
        legend_y=-0.2,
    )
    return figure


def tau_table_chart(
    rows: list[dict[str, Any]], random: tuple[float, float] | None, seeds: dict[str, Any] | None = None
) -> go.Figure:
    """Dream and real score per τ (± standard error), the paper's Table 2 (± std) hollow, random as a band; with
    `seeds` (the bundle's table over seeds), each seed's real score faint and their mean ± standard error."""
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
    if seeds:
        for one in seeds["per_seed"]:
            figure.add_scatter(
                x=[r["tau"] for r in one["taus"]],
                y=[r["real_score"] for r in one["taus"]],
                name=f"seed {one['seed']}: real",
                mode="markers",
                marker={"color": PALETTE[1], "opacity": 0.35, "size": 7},
                legendgroup="seeds",
                showlegend=one is seeds["per_seed"][0],
            )
        mean, se = seeds["mean"]["taus"], seeds["se"]["taus"]
        figure.add_scatter(
            x=[r["tau"] for r in mean],
            y=[r["real_score"] for r in mean],
            error_y={"type": "data", "array": [r["real_score"] or 0 for r in se]},
            name=f"mean over {len(seeds['per_seed'])} seeds: real",
            mode="lines+markers",
            line={"color": PALETTE[3], "width": 3, "dash": "dot"},
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
    chart_layout(
        figure,
        title="The τ table: score in the dream vs in the real game",
        height=380,
        xaxis_title="τ",
        yaxis_title="score (steps survived)",
        legend_y=-0.25,
    )
    return figure


def pictures_strip(view: dict[str, Any]) -> np.ndarray:
    """The second probe's starts, one row each: the game after holding left, the dream of it, the game after holding
    right, the dream of it."""
    real, dreamt = np.asarray(view["real"]), np.asarray(view["dreamt"])
    return frame_strip([np.stack([real[s, 0], dreamt[s, 0], real[s, 1], dreamt[s, 1]]) for s in range(len(real))])


def pictures_caption(view: dict[str, Any]) -> str:
    """The second probe's figures in one paragraph, against the issue's targets."""
    f = pictures_summary({name: np.asarray(value) for name, value in view.items()})
    recall = (
        f"V redraws a fireball in **{f['fireball_recall']:.0%}** of {int(f['fireball_frames'])} held-out frames "
        "that show one."
        if f["fireball_frames"]
        else "This game has no fireballs to count."
    )
    return (
        f"From {int(f['starts'])} real starts, left and right each held {int(f['steps'])} steps at τ {f['tau']:g}: "
        f"the dreamt picture is nearer the game's picture of the same side in **{f['which_way']:.0%}** of cases "
        f"(chance: 50 %); the dream's left and right are **{f['distance_ratio']:.2f}×** as far apart as the game's "
        f"(V's own pictures of the two: {f['v_ratio']:.2f}×). {recall}"
    )


def bundled_picture() -> np.ndarray:
    """The home page's picture: every 10th frame of the bundled world's real episode above M's dream of it at τ 1."""
    viewer = bundled_viewer_snapshot()
    k = list(viewer["taus"].round(2)).index(1.0)
    length = viewer["lengths"][k, 0]
    dream = dream_frames(str(BUNDLED_WORLD), BUNDLED_WORLD.stat().st_mtime, viewer["latents"][k, 0, : length + 1])
    shown = min(len(dream), len(viewer["real"]), 60)
    return frame_strip([viewer["real"][:shown:10], dream[:shown:10]])


def viewer_timeline(path: Path, step: int, viewer: dict[str, np.ndarray], k: int) -> Prebuilt:
    """The timeline of the viewer's τ number k, built once per (world file, snapshot step, τ) for every session."""
    mtime = path.stat().st_mtime

    def build() -> Prebuilt:
        dreams = dream_frames(str(path), mtime, viewer["latents"][k])
        temperature = float(viewer["taus"][k])
        return Prebuilt(timeline_chart(viewer["real"], dreams, viewer["lengths"][k], real_end(viewer), temperature))

    return shared("world_models.timeline", (str(path), mtime, step, k), build, heavy=True)
