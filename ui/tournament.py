"""Figures of the expert-tournament lab, drawn from the trainer's snapshots, and the bundled tournament."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.labs.tournament import data, evaluate, train
from engine.labs.tournament.config import WINNER_RULES
from engine.labs.tournament.mechanisms import parse_classes, parse_mechanisms
from engine.runtime.checkpoints import load_checkpoint
from ui.figures import animation_controls, chart_layout, metric_chart

# one quick-preset run per winner rule: the paper's argmax, and the balanced cap beside it
BUNDLED_CHECKPOINTS = {rule: Path(train.__file__).with_name(f"bundled_tournament_{rule}.pt") for rule in WINNER_RULES}
WINNER_RGB = (0, 204, 150)  # the winner's frame in the sample grid
CURVE_NAMES = {
    "owned_in_training": "in the last rounds' tournament",
    "owned": "on held-out test digits",
    "discriminator_loss": "discriminator",
    "expert_loss": "winning experts",
}


def expert_labels(experts: int) -> list[str]:
    return [f"E{j}" for j in range(experts)]


def win_matrix_chart(counts: np.ndarray, mechanisms: list[str], title: str) -> go.Figure:
    """Mechanisms x experts: each cell the expert's share of that mechanism's examples, the count written in it."""
    figure = go.Figure(
        go.Heatmap(
            z=evaluate.win_shares(counts),
            x=expert_labels(counts.shape[1]),
            y=mechanisms,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            text=counts.astype(int),
            texttemplate="%{text}",
            colorbar={"title": "share"},
            hovertemplate="%{y} → %{x}: %{z:.0%} of wins<extra></extra>",
        )
    )
    chart_layout(
        figure,
        title=title,
        height=380,
        xaxis_title="expert",
        yaxis={"autorange": "reversed", "title": "mechanism (hidden from the experts)"},
    )
    return figure


def win_history_chart(rounds: np.ndarray, shares: np.ndarray, mechanisms: list[str]) -> go.Figure:
    """The win matrix over the rounds as an animation with a slider: specialisation, frame by frame."""
    labels = expert_labels(shares.shape[2])

    def heatmap(frame: np.ndarray) -> go.Heatmap:
        return go.Heatmap(
            z=frame,
            x=labels,
            y=mechanisms,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar={"title": "share"},
            hovertemplate="%{y} → %{x}: %{z:.0%}<extra></extra>",
        )

    play, slider = animation_controls([str(r) for r in rounds], len(rounds) - 1, "▶", frame_ms=150)
    figure = go.Figure(
        data=[heatmap(shares[-1])],
        frames=[go.Frame(data=[heatmap(frame)], name=str(r)) for r, frame in zip(rounds, shares, strict=True)],
    )
    chart_layout(
        figure,
        title="Share of wins per mechanism, round by round",
        height=450,
        margin={"b": 100},
        yaxis={"autorange": "reversed"},
        updatemenus=[
            {
                "type": "buttons",
                "buttons": [play],
                "x": 0,
                "y": -0.1,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 30},
            }
        ],
        sliders=[
            {
                **slider,
                "x": 0.08,
                "len": 0.92,
                "y": -0.1,
                "yanchor": "top",
                "currentvalue": {"prefix": "round ", "xanchor": "right"},
            }
        ],
    )
    return figure


def curves_charts(metrics: dict, events: list[dict]) -> tuple[go.Figure, go.Figure]:
    """Mechanisms owned by distinct experts, and the losses, over rounds; live changes as markers."""
    owned, losses = (
        {CURVE_NAMES[name]: metrics[name] for name in names if name in metrics}
        for names in (("owned_in_training", "owned"), ("discriminator_loss", "expert_loss"))
    )
    return (
        metric_chart(owned, "Mechanisms owned by distinct experts", events, "mechanisms", x_title="round"),
        metric_chart(losses, "Losses", events, "loss", smoothing=20, x_title="round"),
    )


def sample_grid(result: dict[str, np.ndarray], mechanisms: list[str], sample: int, title: str) -> go.Figure:
    """One row per mechanism: the transformed input, every expert's output (the winner framed), the clean original."""
    inputs, outputs, winners = result["inputs"][:, sample], result["outputs"][:, sample], result["winners"][:, sample]
    clean = result["clean"][sample]
    size = clean.shape[-1]
    tile = size + 4  # 2 px of frame on each side
    columns = outputs.shape[1] + 2
    grid = np.full((len(mechanisms) * tile, columns * tile, 3), 255, dtype=np.uint8)
    for row in range(len(mechanisms)):
        tiles = [inputs[row], *outputs[row], clean]
        for column, image in enumerate(tiles):
            top, left = row * tile, column * tile
            if column == winners[row] + 1:
                grid[top : top + tile, left : left + tile] = WINNER_RGB
            grid[top + 2 : top + 2 + size, left + 2 : left + 2 + size] = (255 * image.clip(0, 1))[..., None].astype(
                np.uint8
            )
    labels = ["input", *expert_labels(outputs.shape[1]), "clean"]
    figure = go.Figure(go.Image(z=grid, hoverinfo="skip"))
    figure.update_xaxes(
        tickvals=[tile * (c + 0.5) for c in range(columns)], ticktext=labels, side="top", showgrid=False
    )
    figure.update_yaxes(
        tickvals=[tile * (r + 0.5) for r in range(len(mechanisms))], ticktext=mechanisms, showgrid=False
    )
    chart_layout(figure, title=title, height=60 + 34 * len(mechanisms), margin={"t": 70})
    return figure


def cross_application_chart(result: dict[str, np.ndarray], mechanisms: list[str], title: str) -> go.Figure:
    """Each expert's error on each mechanism's data, beside the error of doing nothing; winners starred."""
    error = np.concatenate([result["error"], result["identity_error"][:, None]], axis=1)
    wins = result["wins"]
    top = wins.argmax(axis=1)
    text = [
        [f"{error[r, c]:.3f}".removeprefix("0") + ("★" if c == top[r] else "") for c in range(error.shape[1])]
        for r in range(len(mechanisms))
    ]
    figure = go.Figure(
        go.Heatmap(
            z=error,
            x=[*expert_labels(wins.shape[1]), "nothing"],
            y=mechanisms,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale="Reds_r",
            zmin=0,
            zmax=float(np.quantile(result["identity_error"], 0.9)),
            colorbar={"title": "error"},
            hovertemplate="%{x} on %{y}: squared error %{z:.4f}<extra></extra>",
        )
    )
    chart_layout(
        figure,
        title=title,
        height=460,
        xaxis_title="expert applied",
        yaxis={"autorange": "reversed", "title": "mechanism of the data"},
    )
    return figure


def transfer_chart(
    test: dict[str, np.ndarray], transfer: dict[str, np.ndarray], mechanisms: list[str], held_out_classes: str
) -> go.Figure:
    """Per mechanism: the winners' error on trained classes, on classes never seen, and doing nothing."""
    held = "/".join(map(str, parse_classes(held_out_classes)))
    figure = go.Figure()
    figure.add_bar(x=mechanisms, y=test["winner_error"], name="winner, trained classes (test digits)")
    figure.add_bar(x=mechanisms, y=transfer["winner_error"], name=f"winner, held-out classes {held}")
    figure.add_bar(x=mechanisms, y=transfer["identity_error"], name="doing nothing", marker_color="lightgrey")
    chart_layout(
        figure,
        title="Transfer: error against the clean original",
        barmode="group",
        height=360,
        yaxis={"type": "log", "dtick": 1, "exponentformat": "power", "title": "mean squared error per pixel"},
        legend_y=-0.2,
    )
    return figure


def reading(result: dict[str, np.ndarray], mechanisms: list[str], owned_share: float) -> str:
    """What the cross-application says, in words, from its own numbers."""
    owners = evaluate.ownership(result["wins"], owned_share)
    owned = [m for m, is_owned in zip(mechanisms, owners["owned"], strict=True) if is_owned]
    better = int((result["winner_error"] < result["identity_error"]).sum())
    return (
        f"**{owners['distinct_owners']} of {len(mechanisms)}** mechanisms are owned (≥ "
        f"{owned_share:.0%} of their wins) by distinct experts; owned: {', '.join(owned) or 'none yet'}. "
        f"The winner's output is closer to the clean digit than doing nothing on **{better} of "
        f"{len(mechanisms)}** mechanisms (mean error {result['winner_error'].mean():.3f} vs "
        f"{result['identity_error'].mean():.3f})."
    )


@st.cache_resource(show_spinner="Replaying the bundled tournament on held-out digits…")
def bundled_preview(rule: str) -> dict[str, dict]:
    """The bundled checkpoint of a quick-preset run with this winner rule: its win history, and a fresh evaluation."""
    state = load_checkpoint(BUNDLED_CHECKPOINTS[rule])
    tournament = train.from_checkpoint(state)
    results = train.evaluation(
        tournament, data.digits_of(tournament.config), parse_mechanisms(tournament.config.mechanisms)
    )
    wins = {name: tensor.numpy() for name, tensor in state["wins"].items()}
    return results | {"wins": wins, "config": state["config"]}
