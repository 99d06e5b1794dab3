"""Figures and cached evaluations of the TDM lab: reachability heatmaps over τ, rollouts on the map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from engine.labs.tdm import agent, evaluate, reachability
from engine.labs.tdm.config import SPACE
from engine.labs.tdm.envs import BOX, LAYOUTS
from engine.runtime.checkpoints import load_checkpoint
from ui.figures import PALETTE, animation_controls, chart_layout

BUNDLED_CHECKPOINT = Path(agent.__file__).with_name("bundled_tdm.pt")
WALL_COLOR = "#444"
METHOD_NAMES = {"tdm": "TDM", "ddpg": "DDPG"}


@st.cache_resource(max_entries=8)
def load_learners(path: str, mtime: float) -> tuple[dict[str, agent.Learner], dict[str, Any], dict[str, np.ndarray]]:
    """The learners of a checkpoint, its config and its learning curves. `mtime` keys a newer checkpoint anew."""
    state = load_checkpoint(Path(path))
    learners = {method: agent.from_checkpoint(state, method) for method in METHOD_NAMES if method in state}
    curves = {key.removesuffix("_curve"): value.numpy() for key, value in state.items() if key.endswith("_curve")}
    return learners, state["config"], curves


def checkpoint_learners(path: Path):
    return load_learners(str(path), path.stat().st_mtime)


@st.cache_data(max_entries=64, show_spinner="Computing the exact reachable sets…")
def exact(layout: str, start: tuple[float, float], tau_max: int, max_step: float) -> np.ndarray:
    return reachability.exact_distances(layout, np.array(start), tau_max, max_step)


@st.cache_data(max_entries=64, show_spinner=False)
def predicted(path: str, mtime: float, start: tuple[float, float]) -> np.ndarray:
    """The checkpoint's d̂ over goals and τ for a start: computed once per checkpoint, not at every live redraw."""
    learners, config, _ = load_learners(path, mtime)
    return evaluate.predicted_distances(learners["tdm"], np.array(start), config["tau_max"])


@st.cache_data(max_entries=64, show_spinner=False)
def paths_toward(
    path: str, mtime: float, start: tuple[float, float], goal: tuple[float, float]
) -> dict[str, np.ndarray]:
    """Each learner's deterministic rollout from start toward goal: positions (steps + 1, 2)."""
    learners, config, _ = load_learners(path, mtime)
    starts, goals = np.array([start]), np.array([goal])
    config = SPACE.typed(config)
    return {method: evaluate.rollouts(learner, config, starts, goals)[:, 0] for method, learner in learners.items()}


def wall_shapes(layout: str, axis: str = "") -> list[dict]:
    """The walls as filled rectangles on the subplot whose axes are x{axis}/y{axis}."""
    return [
        {
            "type": "rect",
            "x0": x0,
            "y0": y0,
            "x1": x1,
            "y1": y1,
            "xref": f"x{axis}",
            "yref": f"y{axis}",
            "fillcolor": WALL_COLOR,
            "line": {"width": 0},
        }
        for x0, y0, x1, y1 in LAYOUTS[layout].walls
    ]


def reachability_figure(
    distance: np.ndarray, truth: np.ndarray, layout: str, start: tuple[float, float], tau: int = 0, title: str = ""
) -> go.Figure:
    """TDM's d̂ = -V(s, g, τ), the exact d*, and d̂ - d* over the goals; frames over τ with a slider and Play."""
    walls = reachability.goal_in_wall(layout)
    goals = reachability.GOALS
    top = float(np.nanmax(truth[0]))

    def traces(t: int) -> list[go.Heatmap]:
        model, true = np.where(walls, np.nan, distance[t]), np.where(walls, np.nan, truth[t])
        common = {"x": goals, "y": goals, "hovertemplate": "goal (%{x:.2f}, %{y:.2f}): %{z:.2f}<extra></extra>"}
        return [
            go.Heatmap(z=model, zmin=0, zmax=top, coloraxis="coloraxis", **common),
            go.Heatmap(z=true, zmin=0, zmax=top, coloraxis="coloraxis", **common),
            go.Heatmap(
                z=model - true,
                zmid=0,
                zmin=-0.5,
                zmax=0.5,
                colorscale="RdBu_r",
                colorbar={"title": "d̂ − d*", "x": 1.1, "len": 0.9, "thickness": 14},
                **common,
            ),
        ]

    figure = make_subplots(
        1, 3, subplot_titles=("TDM: -V(s, g, τ)", "exact: d*(s, g, τ)", "difference"), horizontal_spacing=0.05
    )
    for column, trace in enumerate(traces(tau), start=1):
        figure.add_trace(trace, row=1, col=column)
    for column in range(1, 4):
        figure.add_scatter(
            x=[start[0]],
            y=[start[1]],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={"symbol": "star", "size": 14, "color": "white", "line": {"width": 1}},
            row=1,
            col=column,
        )
    figure.frames = [go.Frame(data=traces(t), traces=[0, 1, 2], name=str(t)) for t in range(len(distance))]
    play, slider = animation_controls([str(t) for t in range(len(distance))], tau, "▶ Play τ", frame_ms=400)
    figure.update_layout(
        title=title,
        height=520,
        margin={"l": 10, "r": 100, "t": 70, "b": 140},
        shapes=[shape for axis in ("", "2", "3") for shape in wall_shapes(layout, axis)],
        coloraxis={
            "colorscale": "Viridis_r",
            "cmin": 0,
            "cmax": top,
            "colorbar": {"title": "L1 distance", "x": 1.01, "len": 0.9, "thickness": 14},
        },
        updatemenus=[
            {
                "type": "buttons",
                "buttons": [play],
                "x": 1.0,
                "y": 1.2,
                "xanchor": "right",
                "yanchor": "bottom",
                "showactive": False,
            }
        ],
        sliders=[{**slider, "currentvalue": {"prefix": "τ = "}, "x": 0, "len": 0.9, "y": -0.16, "yanchor": "top"}],
    )
    figure.update_xaxes(range=[-BOX, BOX])
    figure.update_yaxes(range=[-BOX, BOX])
    return figure


def rollout_figure(
    paths: dict[str, np.ndarray],
    layout: str,
    goal: tuple[float, float],
    radius: float,
    title: str = "Rollouts toward the goal",
) -> go.Figure:
    """Each learner's deterministic path (τ counting down) from the start to the goal, on the map."""
    figure = go.Figure()
    for index, (method, path) in enumerate(paths.items()):
        figure.add_scatter(
            x=path[:, 0],
            y=path[:, 1],
            mode="lines+markers",
            name=METHOD_NAMES[method],
            marker={"size": 5},
            line={"color": PALETTE[index]},
        )
    figure.add_scatter(
        x=[next(iter(paths.values()))[0, 0]],
        y=[next(iter(paths.values()))[0, 1]],
        mode="markers",
        name="start",
        marker={"symbol": "star", "size": 14, "color": "black"},
    )
    figure.add_shape(
        type="circle",
        x0=goal[0] - radius,
        y0=goal[1] - radius,
        x1=goal[0] + radius,
        y1=goal[1] + radius,
        line={"color": PALETTE[2], "width": 2},
    )
    figure.add_scatter(
        x=[goal[0]], y=[goal[1]], mode="markers", name="goal", marker={"symbol": "x", "size": 12, "color": PALETTE[2]}
    )
    chart_layout(
        figure, title=title, height=380, shapes=list(figure.layout.shapes) + wall_shapes(layout), legend_y=-0.1
    )
    figure.update_xaxes(range=[-BOX, BOX])
    figure.update_yaxes(range=[-BOX, BOX])
    return figure


def curve_series(curves: dict[str, np.ndarray], column: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A bundled checkpoint's (step, success, final distance) rows as metric_chart series; column 1 or 2."""
    return {METHOD_NAMES[method]: (rows[:, 0], rows[:, column]) for method, rows in curves.items() if len(rows)}
