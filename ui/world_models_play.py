"""Play inside the dream: the arrow keys or the buttons step M's dream from a real start of the game, in the
world of the run on the page (or the bundled world)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.labs.world_models.dream import DreamSession
from engine.labs.world_models.facts import GAMES
from engine.labs.world_models.viewer import real_start, start_step
from ui.figures import PALETTE, chart_layout
from ui.world_models import download_png, odds_top
from ui.world_models_data import world_of

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
    chart_layout(
        figure,
        title="P(the dream ends here), by M",
        height=260,
        xaxis={"title": "dream step", "range": [0, max(40, len(play.deaths) + 2)]},
        yaxis={"range": [0, odds_top(np.array(play.deaths))], "title": "P(end)"},
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
