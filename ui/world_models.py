"""Figures, cached worlds and the τ table of the World Models lab. Nothing here plays the real game: real frames
come from the worker's snapshots (or the bundled checkpoint), dreams are decoded once per (run, step, τ)."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine.labs.world_models import BUNDLED_WORLD, train
from engine.labs.world_models.dream import DreamSession, World
from engine.labs.world_models.facts import GAMES, PAPER_TAU_TABLE
from engine.labs.world_models.pictures import pictures_summary
from engine.labs.world_models.probe import probe_summary
from engine.labs.world_models.viewer import decode, real_start, share_at_rate, start_step
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.store import Run, Status
from ui.engine import job_manager, store
from ui.figures import PALETTE, Prebuilt, frames_animation
from ui.live import run_now, shared


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
    figure.update_layout(
        title="C: CMA-ES fitness in the dream",
        height=300,
        xaxis_title="generation",
        yaxis_title="mean dream return",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
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
    figure.update_layout(
        title="M's probability that the dream ends here, per dream step",
        height=240,
        xaxis_title="dream step",
        yaxis={"range": [0, odds_top(death)], "title": "P(end)"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
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
    figure.update_layout(
        title=f"Dreams ended before the real hit (step {steps})",
        height=260,
        xaxis_title="τ",
        yaxis={"range": [0, 1], "tickformat": ".0%", "title": "of the dreams"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
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
    figure.update_layout(
        title=f"Does the dream know what moving does? ({summary['states']} real states, {near})",
        height=360,
        barmode="group",
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "y": -0.2},
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
    figure.update_layout(
        title="The τ table: score in the dream vs in the real game",
        height=380,
        xaxis_title="τ",
        yaxis_title="score (steps survived)",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
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


# ---------------------------------------------------------------------------------------------- the stages' charts

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


def bundled_viewer_snapshot() -> dict[str, np.ndarray]:
    """The bundled world's viewer snapshot (viewer.viewer_snapshot's arrays)."""
    return {name: tensor.numpy() for name, tensor in world_of(BUNDLED_WORLD)[2]["viewer"].items()}


def bundled_picture() -> np.ndarray:
    """The home page's picture: every 10th frame of the bundled world's real episode above M's dream of it at τ 1."""
    viewer = bundled_viewer_snapshot()
    k = list(viewer["taus"].round(2)).index(1.0)
    length = viewer["lengths"][k, 0]
    dream = dream_frames(str(BUNDLED_WORLD), BUNDLED_WORLD.stat().st_mtime, viewer["latents"][k, 0, : length + 1])
    shown = min(len(dream), len(viewer["real"]), 60)
    return frame_strip([viewer["real"][:shown:10], dream[:shown:10]])


def real_end(viewer: dict[str, np.ndarray]) -> int | None:
    """The step of the viewer's real episode's hit (None: it lived through the clip)."""
    return len(viewer["real"]) - 1 if viewer["real_rate"] > 0 else None


def viewer_timeline(path: Path, step: int, viewer: dict[str, np.ndarray], k: int) -> Prebuilt:
    """The timeline of the viewer's τ number k, built once per (world file, snapshot step, τ) for every session."""
    mtime = path.stat().st_mtime

    def build() -> Prebuilt:
        dreams = dream_frames(str(path), mtime, viewer["latents"][k])
        temperature = float(viewer["taus"][k])
        return Prebuilt(timeline_chart(viewer["real"], dreams, viewer["lengths"][k], real_end(viewer), temperature))

    return shared("world_models.timeline", (str(path), mtime, step, k), build, heavy=True)


# ---------------------------------------------------------------------------------------------- play in the dream

STEPS_PER_PRESS = 4  # dream steps per press of a key or a button
KEYS = {"ArrowLeft": "left", "ArrowDown": "still", "ArrowRight": "right", "ArrowUp": "gas"}  # key → action name part
ARROWS = {"ArrowLeft": "←", "ArrowDown": "↓", "ArrowRight": "→", "ArrowUp": "↑"}

# Streamlit has no key events: this component listens to the page's arrow keys (not while a text field or a slider
# has the focus) and sends each press, at most ~7 a second while a key is held, as a trigger value.
arrow_keys = st.components.v2.component(
    "dreamlab.arrow_keys",
    js="""
export default function ({ setTriggerValue, data }) {
  let last = 0;
  const press = (event) => {
    const target = event.target;
    const typing = target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)
      || target.closest?.('[role="slider"]'));
    if (typing || !data.keys.includes(event.key)) return;
    event.preventDefault();
    if (Date.now() - last < 150) return;
    last = Date.now();
    setTriggerValue("key", event.key);
  };
  document.addEventListener("keydown", press);
  return () => document.removeEventListener("keydown", press);
}
""",
)


def dream_buttons(env: str) -> dict[str, tuple[str, Any]]:
    """What a visitor can press in a dream: the game's own actions (facts.GAMES), in order, each as (its arrow key
    or "", the action): ← and → the actions named left and right, ↓ still (or brake), ↑ gas."""
    actions = GAMES[env].actions

    def key(name: str) -> str:
        return next((k for k, part in KEYS.items() if part in name), "ArrowDown" if "brake" in name else "")

    return {
        name: (key(name), np.asarray(action, np.float32) if isinstance(action, tuple) else action)
        for name, action in actions.items()
    }


@dataclass
class Play:
    """A visitor's dream: the session, what M said at each step, and which real start it began from."""

    key: tuple
    session: DreamSession
    start: int
    deaths: list[float] = field(default_factory=list)  # M's P(the dream ends) at each step
    hit: int | None = None  # the step at which M ended the dream


def play_of(path: Path, step: int, viewer: dict[str, np.ndarray], temperature: float, restart: bool) -> Play | None:
    """The dream this session plays in the world at `path` (a run's checkpoint or the bundled world), kept per world
    and viewer snapshot (`step`): another run, a new checkpoint or Restart (from the next real start) begins a fresh
    one. None: the world's M has not trained yet (its checkpoint after V alone has no dream starts)."""
    world = world_of(path)[0]
    if not len(world.start_mu):
        return None
    key = (str(path), path.stat().st_mtime, step)
    play = st.session_state.get("world_models.play")
    if restart or play is None or play.key != key:
        start = play.start + 1 if restart and play is not None and play.key == key else 0
        session = DreamSession(world, temperature, seed=start, state=real_start(world, viewer, start))
        play = Play(key, session, start)
        st.session_state["world_models.play"] = play
    play.session.temperature = temperature
    return play


def advance(play: Play, action: Any) -> None:
    """STEPS_PER_PRESS dream steps under the action, until M ends the dream."""
    for _ in range(STEPS_PER_PRESS):
        if play.hit is not None:
            return
        _, _, death, over = play.session.step(action)
        play.deaths.append(death)
        if over:
            play.hit = len(play.deaths)


def play_trace(play: Play) -> go.Figure:
    """M's P(the dream ends) at each step of the visitor's dream, the hit marked."""
    steps = np.arange(1, len(play.deaths) + 1)
    figure = go.Figure(go.Scatter(x=steps, y=play.deaths, mode="lines", line={"color": PALETTE[1]}, name="P(end)"))
    if play.hit is not None:
        figure.add_scatter(
            x=[play.hit],
            y=[play.deaths[-1]],
            mode="markers+text",
            marker={"symbol": "x", "size": 14, "color": "red"},
            text=["hit"],
            textposition="top center",
            name="M's hit",
        )
    figure.update_layout(
        title="P(the dream ends here), by M",
        height=260,
        xaxis={"title": "dream step", "range": [0, max(40, len(play.deaths) + 2)]},
        yaxis={"range": [0, odds_top(np.array(play.deaths))], "title": "P(end)"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
    )
    return figure


def big(frame: np.ndarray, scale: int = 6) -> np.ndarray:
    """A 64×64 dream frame scaled up by whole pixels (sharp, not blurred)."""
    return frame.repeat(scale, 0).repeat(scale, 1)


@st.fragment
def dream_play(path: Path, step: int, viewer: dict[str, np.ndarray], env: str, temperature: float) -> None:
    """Play inside the dream: the arrow keys or the buttons act, each press STEPS_PER_PRESS steps; a press reruns
    this fragment alone."""
    actions = dream_buttons(env)
    buttons = st.columns(len(actions) + 1)
    restart = buttons[-1].button("Restart", key="wm.restart", help="A fresh dream from a later step of the real game")
    play = play_of(path, step, viewer, temperature, restart)
    if play is None:
        st.info("Nothing to play yet: this run's M has not dreamt a first time (its world has no real starts yet).")
        return
    keys = [key for key, _ in actions.values() if key]
    pressed = arrow_keys(key="wm.keys", data={"keys": keys}, height=0, on_key_change=lambda: None)
    for column, (name, (key, action)) in zip(buttons, actions.items(), strict=False):
        label = f"{ARROWS.get(key, '')} {name}".strip()
        if column.button(label, key=f"wm.act.{name}", disabled=play.hit is not None, width="stretch"):
            advance(play, action)
    by_key = {key: action for key, action in actions.values() if key}
    if pressed.key in by_key:
        advance(play, by_key[pressed.key])
    image, trace = st.columns([2, 3])
    caption = (
        f"dream step {len(play.deaths)} at τ = {temperature:g}, "
        f"from step {start_step(viewer, play.start)} of the real game above"
    )
    image.image(big(play.session.frame()), caption=caption, width="stretch", clamp=True)
    with image:
        download_png(big(play.session.frame()), "dream_frame", "wm.play_png")
    trace.plotly_chart(play_trace(play), key="wm.play_trace")
    if play.hit is not None:
        trace.error(f"M dreamt a hit at step {play.hit}: the dream is over. Restart to dream from another start.")
    elif play.deaths:
        trace.metric("P(the dream ends) now, by M", f"{play.deaths[-1]:.2f}")


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
