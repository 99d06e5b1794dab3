"""Temporal Difference Models: a goal-conditioned Q with a horizon τ learns what a point mass can reach in τ steps."""

from pathlib import Path

import numpy as np
import streamlit as st

from engine.labs import get_lab
from engine.labs.tdm.envs import LAYOUTS, inside_walls
from engine.runtime.store import Run
from ui import live
from ui.engine import store
from ui.figures import Prebuilt, metric_chart
from ui.params import url_number
from ui.results import explain
from ui.run_panel import lab_header, live_controls, live_panel, look_for
from ui.tdm import (
    BUNDLED_CHECKPOINT,
    METHOD_NAMES,
    checkpoint_learners,
    curve_series,
    exact,
    load_learners,
    paths_toward,
    predicted,
    reachability_figure,
    rollout_figure,
)

LAB = get_lab("tdm")
POINTS = {"sx": "start x", "sy": "start y", "gx": "goal x", "gy": "goal y"}  # URL key → slider label
FIRST_TAU = 4  # the heatmaps open at a horizon where the wall already bends the reachable set
HEAVY_EVERY = 10.0  # seconds: a live run's heatmaps and rollouts (a megabyte, torch rollouts) move at most this often


def pick_points(layout: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Start and goal sliders, seeded from a shared link (else: the layout's first scoring start, and a goal across
    the room), written back to the URL."""
    defaults = dict(zip(POINTS, (*LAYOUTS[layout].starts[0], 0.6, -0.5), strict=True))
    columns = st.columns(4)
    values = {}
    for column, (key, label) in zip(columns, POINTS.items(), strict=True):
        if f"tdm.{key}" not in st.session_state:
            linked = url_number(key, float, -1.0, 1.0)
            st.session_state[f"tdm.{key}"] = defaults[key] if linked is None else round(linked * 20) / 20
        values[key] = column.slider(label, -1.0, 1.0, step=0.05, key=f"tdm.{key}")
        st.query_params[key] = f"{values[key]:g}"
    start, goal = (values["sx"], values["sy"]), (values["gx"], values["gy"])
    walls = LAYOUTS[layout].walls
    if inside_walls(np.array([start, goal]), walls).any():
        st.warning("The start or the goal is inside a wall: move it into the room.")
        return None
    return start, goal


def views(
    checkpoint: Path,
    start,
    goal,
    curves: tuple,
    curve_series_of,
    snapshot: tuple[int, dict] | None = None,
    stamp: float | None = None,
) -> None:
    """The heatmaps over τ for the start; below, the learning curves and the rollouts toward the goal. Each figure is
    built once per checkpoint (or snapshot, or `curves` key) and start/goal for every session (ui.live); the
    curves come from `curve_series_of()` → (success, distance, events), called only when `curves` is new. A live
    run's checkpoint is read (torch, in this process) once per `stamp`, not at every save of the trainer."""
    key = (str(checkpoint), checkpoint.stat().st_mtime if stamp is None else stamp)
    _, config, _ = load_learners(*key)
    tau = min(FIRST_TAU, config["tau_max"])
    title = f"From {start}, how close can it get to each goal in τ + 1 steps?"
    if snapshot is not None and np.allclose(snapshot[1]["start"], start):
        # the trainer's own snapshot: no torch in the page for the default start
        heatmap = live.shared(
            "tdm.heatmap",
            (key[0], start, snapshot[0]),
            lambda: Prebuilt(
                reachability_figure(
                    snapshot[1]["distance"],
                    exact(config["layout"], start, config["tau_max"], config["max_step"]),
                    config["layout"],
                    start,
                    tau,
                    f"{title} (after {snapshot[0]} env steps)",
                )
            ),
            heavy=True,
        )
    else:
        heatmap = live.shared(
            "tdm.heatmap",
            (*key, start),
            lambda: Prebuilt(
                reachability_figure(
                    predicted(*key, start),
                    exact(config["layout"], start, config["tau_max"], config["max_step"]),
                    config["layout"],
                    start,
                    tau,
                    title,
                )
            ),
            heavy=True,
        )
    st.plotly_chart(heatmap, key="tdm.heatmap")
    look_for(
        st,
        "the learnt map (left) bending around the wall like the exact one (middle); the difference (right) near white.",
    )
    left, middle, right = st.columns(3)
    charts = live.shared("tdm.curves", curves, lambda: curve_charts(*curve_series_of()))
    if charts:
        left.plotly_chart(charts[0], key="tdm.success")
        look_for(
            left, "success rising toward 1 (in the compare preset: TDM's curve ahead of DDPG's at the same env steps)."
        )
        middle.plotly_chart(charts[1], key="tdm.distance")
        look_for(middle, "the distance left to the goal falling as the agent learns to reach it.")
    right.plotly_chart(
        live.shared(
            "tdm.rollouts",
            (*key, start, goal),
            lambda: Prebuilt(rollout_figure(paths_toward(*key, start, goal), config["layout"], goal, config["radius"])),
        ),
        key="tdm.rollouts",
    )
    look_for(right, "paths that go around the wall to the goal, not into it.")


def curve_charts(success: dict, distance: dict, events=()) -> tuple[Prebuilt, Prebuilt] | None:
    if not success:
        return None
    return (
        Prebuilt(
            metric_chart(
                success, "Success on held-out start–goal pairs", events, "success rate", height=380, x_title="env steps"
            )
        ),
        Prebuilt(
            metric_chart(
                distance, "Final distance to the goal", events, "mean ‖s − g‖₂", height=380, x_title="env steps"
            )
        ),
    )


preset, overrides, run = lab_header(
    LAB,
    "A **Temporal Difference Model** is a goal-conditioned Q-function with a horizon: Q(s, a, g, τ) is minus the "
    "distance to the goal g that the agent will be left with after τ more steps. Trained off-policy on every "
    "horizon at once, it is a model of what the dynamics can reach — it plans like a model and learns like "
    "Q-learning (Pong, Gu, Dalal & Levine 2018). Here a point mass learns it; the exact answer is drawn beside.",
    r"Q(s_t,a_t,g,\tau)=\mathbb{E}_{s_{t+1}}\Big[-\lvert s_{t+1}-g\rvert\,\mathbb{1}[{\tau=0}]"
    r"+\max_a Q(s_{t+1},a,g,\tau-1)\,\mathbb{1}[{\tau\neq0}]\Big]",
)
_, bundled_config, bundled_curves = checkpoint_learners(BUNDLED_CHECKPOINT)
points = pick_points(run.config["layout"] if run else bundled_config["layout"])


def draw(latest: Run) -> None:
    checkpoint = store().checkpoint_path(latest.id)
    if not checkpoint.exists():
        st.info(
            f"The curves and heatmaps appear at the first evaluation (every {latest.config['eval_every']} "
            "env steps, after a warm-up of random moves)."
        )
        return
    if points:

        def series():
            metrics = live.metrics(latest)
            curves = {
                name: {METHOD_NAMES[m]: metrics[f"{m}_{name}"] for m in METHOD_NAMES if f"{m}_{name}" in metrics}
                for name in ("success", "final_distance")
            }
            return curves["success"], curves["final_distance"], live.events(latest)

        views(
            checkpoint,
            *points,
            (latest.id, live.version(latest)),
            series,
            live.snapshot(latest, "heatmap", HEAVY_EVERY),
            live.version(latest, HEAVY_EVERY),
        )


if run is None:
    st.subheader("What a trained TDM knows")
    st.caption(
        "No run yet: this is a TDM bundled with Dreamlab (a quick-preset run on the wall layout: the TDM "
        "alone). Pick any start and goal; press **Train** to grow your own and watch it learn (the compare "
        "preset trains DDPG beside it)."
    )
    if points:
        views(
            BUNDLED_CHECKPOINT,
            *points,
            ("bundled", BUNDLED_CHECKPOINT.stat().st_mtime),
            lambda: (curve_series(bundled_curves, 1), curve_series(bundled_curves, 2)),
        )
else:
    live_controls(LAB.name, LAB.space, run)
    live_panel(run, draw)

with st.expander("What the figures show", expanded=True):
    explain(__file__, LAB.name)
