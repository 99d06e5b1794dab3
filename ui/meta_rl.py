"""Figures of the Learning-to-reinforcement-learn lab, drawn from the trainer's snapshots."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.runtime.store import Run
from ui.figures import PALETTE, band, chart_layout

# drawing order and style: the Bayes-optimal floor first, the agent on top
METHODS = {
    "bayes": ("Bayes-optimal (floor)", "black", "dash"),
    "thompson": ("Thompson sampling", PALETTE[2], "solid"),
    "ucb1": ("UCB1", PALETTE[3], "solid"),
    "greedy": ("greedy", PALETTE[4], "solid"),
    "random": ("random", "grey", "dot"),
    "agent": ("meta-RL agent (frozen)", PALETTE[1], "solid"),
}


def ablation_of(run: Run, finished: list[Run]) -> Run | None:
    """Among `finished` runs, the latest that is this run's ablation: the same values, the reward input off (an
    ablation has none of its own, and an ordinary run is no one's ablation)."""
    if not run.config["reward_input"]:
        return None
    for other in finished:
        if (
            other.id != run.id
            and {**other.config, "reward_input": True} == run.config
            and not other.config["reward_input"]
        ):
            return other
    return None


def regret_chart(curves: dict[str, np.ndarray], title: str, ablation: dict[str, np.ndarray] | None = None) -> go.Figure:
    """Cumulative regret per pull, mean ± standard error over held-out bandits, every method on the same ones."""
    figure = go.Figure()
    pulls = curves["pulls"]
    for method, (label, color, dash) in METHODS.items():
        if f"{method}_mean" in curves:
            band(
                figure,
                pulls,
                curves[f"{method}_mean"],
                curves[f"{method}_se"],
                label,
                color,
                dash,
                width=4 if method == "agent" else 2,
            )
    if ablation is not None:
        band(
            figure,
            ablation["pulls"],
            ablation["agent_mean"],
            ablation["agent_se"],
            "agent without reward input",
            PALETTE[0],
            "dashdot",
        )
    chart_layout(figure, title=title, height=380, xaxis_title="pull", yaxis_title="cumulative regret", legend_y=-0.25)
    return figure


def episode_chart(episode: dict[str, np.ndarray]) -> go.Figure:
    """One bandit: the agent's P(arm) beside the Beta posterior means of its own data, and every pull it made."""
    arms = len(episode["probs"])
    pulls = np.arange(1, len(episode["actions"]) + 1)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    for arm in range(arms):
        color = PALETTE[arm % len(PALETTE)]
        figure.add_scatter(
            x=pulls,
            y=episode["arm_probs"][:, arm],
            name=f"agent P(arm {arm})",
            mode="lines",
            line={"color": color, "width": 3},
            row=1,
            col=1,
        )
        figure.add_scatter(
            x=pulls,
            y=episode["posterior_mean"][:, arm],
            name=f"posterior mean arm {arm}",
            mode="lines",
            line={"color": color, "dash": "dot"},
            row=1,
            col=1,
        )
        figure.add_hline(
            y=float(episode["probs"][arm]),
            line={"color": color, "dash": "dash", "width": 1},
            annotation_text=f"true p{arm} = {episode['probs'][arm]:.2f}",
            annotation_position="top left" if arm % 2 == 0 else "bottom right",
            row=1,
            col=1,
        )
    rewarded = episode["rewards"] > 0
    for hit, label, symbol in ((True, "pull, reward 1", "circle"), (False, "pull, reward 0", "x-thin-open")):
        chosen = rewarded == hit
        figure.add_scatter(
            x=pulls[chosen],
            y=episode["actions"][chosen],
            mode="markers",
            name=label,
            marker={"symbol": symbol, "size": 7, "color": "black" if hit else "grey", "line": {"width": 1.5}},
            row=2,
            col=1,
        )
    figure.update_yaxes(title_text="probability", range=[-0.02, 1.02], row=1, col=1)
    figure.update_yaxes(title_text="arm", tickvals=list(range(arms)), range=[-0.5, arms - 0.5], row=2, col=1)
    figure.update_xaxes(title_text="pull", row=2, col=1)
    chart_layout(figure, height=460, margin={"t": 30}, legend_y=-0.15)
    return figure


def reading(curves: dict[str, np.ndarray]) -> str:
    """What the regret figure says, in words, from its own numbers."""
    final = {m: float(curves[f"{m}_mean"][-1]) for m in METHODS if f"{m}_mean" in curves}
    se = float(curves["agent_se"][-1])
    pulls = len(curves["pulls"])
    text = f"After {pulls} pulls the frozen agent's regret is **{final['agent']:.2f} ± {se:.2f}**"
    if "bayes" in final:
        gap = 100 * (final["agent"] / final["bayes"] - 1)
        text += f", {gap:+.0f}% from the Bayes-optimal floor ({final['bayes']:.2f})"
    beaten = [
        METHODS[m][0] for m in ("thompson", "ucb1", "greedy", "random") if m in final and final["agent"] < final[m]
    ]
    text += "; it beats " + (", ".join(beaten) if beaten else "none of the baselines yet") + "."
    return text


def bundled_reading(curves: dict[str, np.ndarray], bandits: int) -> str:
    """The bundled agent's reading, and why it differs from the measured figures the page quotes below it."""
    return (
        reading(curves)
        + f" This is the agent bundled with Dreamlab, scored on {bandits:,} held-out bandits (± is the standard "
        "error). The figures under *What the figures show* are other agents of the same preset, one per seed, "
        "trained afresh by `python -m engine bench meta_rl --preset quick --seeds N` and each scored on bandits of "
        "its own: each training run ends a little differently, so the two readings differ by that and by the luck of "
        "the bandits drawn."
    )
