"""Plotly figure builders shared by the lab pages and the Runs page."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.basedatatypes import BaseFigure

PALETTE = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"]
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}  # narrow, with room for a title above


def chart_layout(figure: go.Figure, margin: dict | None = None, legend_y: float | None = None, **layout) -> go.Figure:
    """The layout the labs' charts share: narrow margins with room for the title (`margin` changes some of them),
    the legend in one row under the plot at `legend_y` (when given), and the chart's own `layout`."""
    legend = {} if legend_y is None else {"legend": {"orientation": "h", "y": legend_y}}
    figure.update_layout(margin=MARGIN | (margin or {}), **legend, **layout)
    return figure


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average, so a noisy training curve reads as a trend."""
    if window <= 1 or len(values) < 2:
        return values
    cumulative = np.cumsum(np.insert(values.astype(float), 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (cumulative[1:] - cumulative[starts]) / counts


def metric_chart(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    title: str,
    events: list[dict[str, Any]] = (),
    y_title: str = "",
    smoothing: int = 1,
    height: int = 320,
    x_title: str = "step",
) -> go.Figure:
    """Lines per metric against step; live-control events as dotted verticals, so their effect is visible."""
    figure = go.Figure()
    for index, (name, (steps, values)) in enumerate(series.items()):
        figure.add_scatter(
            x=steps,
            y=smooth(values, smoothing),
            name=name,
            mode="lines+markers" if len(steps) < 30 else "lines",
            line={"color": PALETTE[index % len(PALETTE)]},
        )
    steps = [step for xs, _ in series.values() if len(xs) for step in (xs[0], xs[-1])]
    for group in event_groups(events, (max(steps) - min(steps)) / 50 if steps else 0):
        label = group[-1]["kind"] + "".join(
            f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}"
            for k, v in group[-1]["detail"].items()
            if k != "message"
        )  # a history line
        if len(group) > 1:
            label += f" (last of {len(group)})"
        figure.add_vline(
            x=group[-1]["step"],
            line={"dash": "dot", "color": "grey"},
            annotation_text=label,
            annotation_position="top left",
            annotation_font_size=10,
        )
    # the legend sits at the very bottom of the figure, below the x-axis title rather than on it
    figure.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 50},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
    )
    return figure


def event_groups(events: list[dict[str, Any]], gap: float) -> list[list[dict[str, Any]]]:
    """Events in runs no more than `gap` steps apart: a few quick slider moves make one marker, not a pile of them."""
    groups: list[list[dict[str, Any]]] = []
    for event in sorted(events, key=lambda event: event["step"]):
        if groups and event["step"] - groups[-1][-1]["step"] <= gap:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def band(
    figure: go.Figure,
    x: np.ndarray,
    mean: np.ndarray,
    error: np.ndarray,
    name: str,
    color: str,
    dash: str = "solid",
    width: float = 2,
) -> None:
    """A mean line with a ±error shaded band (standard error, unless the caller says otherwise)."""
    figure.add_scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([mean + error, (mean - error)[::-1]]),
        fill="toself",
        fillcolor=color,
        opacity=0.15,
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=name,
    )
    figure.add_scatter(
        x=x, y=mean, name=name, mode="lines", legendgroup=name, line={"color": color, "dash": dash, "width": width}
    )


def animation_controls(frame_names: list[str], active: int, play_label: str, frame_ms: int) -> tuple[dict, dict]:
    """A play button and a slider over a figure's named frames (Plotly animates in the browser, no rerun); the
    caller places them: `updatemenus=[{"type": "buttons", "buttons": [play], …}]`, `sliders=[{**slider, …}]`."""
    play = {
        "label": play_label,
        "method": "animate",
        "args": [
            None,
            {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": False, "transition": {"duration": 0}},
        ],
    }
    steps = [
        {
            "label": name,
            "method": "animate",
            "args": [[name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}],
        }
        for name in frame_names
    ]
    return play, {"steps": steps, "active": active}


def frames_animation(frames: np.ndarray, title: str, height: int = 440) -> go.Figure:
    """Frames (n, H, W) or (n, H, W, 1|3), uint8, as a Plotly animation with a play button and a step slider."""
    import plotly.express as px

    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    grey = frames.ndim == 3
    figure = px.imshow(
        frames,
        animation_frame=0,
        binary_string=not grey,
        color_continuous_scale="gray",
        zmin=0,
        zmax=255,
        labels={"animation_frame": "step"},
    )
    figure.update_layout(
        title=title, height=height, margin={"l": 0, "r": 0, "t": 40, "b": 0}, coloraxis_showscale=False
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    if figure.layout.updatemenus:  # a dream plays at about 15 frames per second
        figure.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"] = 66
        figure.layout.updatemenus[0].buttons[0].args[1]["transition"]["duration"] = 0
    return figure


# Serving cost: a figure built once per new step is shared by every session, and handed to st.plotly_chart as a
# `Prebuilt`, which keeps its spec as one compact JSON string: re-sending it costs a json.loads and a json.dumps, not a
# copy of the figure, numpy conversions and plotly's NaN round trip; and a string, unlike nested lists, is a few
# hundred kilobytes that the garbage collector never has to walk.


def _plain(value: Any) -> Any:
    """A figure's dict as plain lists, floats and None (NaN and ±inf → None, as JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return (
                np.where(np.isfinite(value), value, None).tolist() if not np.isfinite(value).all() else value.tolist()
            )
        if value.dtype.kind in "iub":
            return value.tolist()
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class Prebuilt(BaseFigure):
    """A finished figure for st.plotly_chart: Streamlit asks it for `to_dict()` and gets the prepared spec."""

    def __init__(self, figure: go.Figure):  # BaseFigure.__init__ (validation, a copy of every trace) is skipped
        self._json = json.dumps(_plain(figure.to_dict()), separators=(",", ":"), allow_nan=False)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self._json)

    def __repr__(self) -> str:
        return f"Prebuilt({len(self._json) // 1024} KB)"
