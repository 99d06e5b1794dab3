"""What the lab pages' figures say: legends, markers, readings (no server, no torch)."""

from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go

from ui.figures import metric_chart
from ui.meta_rl import ablation_of


def meta_rl_run(run_id: int, reward_input: bool = True, **config):
    return SimpleNamespace(id=run_id, config={"lr": 1e-3, "hidden": 8, **config, "reward_input": reward_input})


def test_only_a_run_without_the_reward_input_is_an_ablation():
    run, other_ordinary, ablation = meta_rl_run(3), meta_rl_run(2), meta_rl_run(1, reward_input=False)
    assert ablation_of(run, [other_ordinary]) is None  # two ordinary runs: no "agent without reward input"
    assert ablation_of(run, [other_ordinary, ablation]) is ablation
    assert ablation_of(run, [meta_rl_run(4, reward_input=False, lr=3e-3)]) is None  # other values: not its ablation
    assert ablation_of(ablation, [run]) is None  # an ablation has no ablation of its own


def test_quick_live_changes_make_one_marker():
    steps = np.arange(0, 1000, 10)
    events = [
        {"step": step, "kind": "set", "detail": {"lr": lr}} for step, lr in ((500, 1e-3), (505, 2e-3), (512, 3e-3))
    ]
    figure = metric_chart(
        {"loss": (steps, np.ones(len(steps)))}, "Losses", events + [{"step": 900, "kind": "pause", "detail": {}}]
    )
    labels = [note.text for note in figure.layout.annotations]
    assert labels == ["set lr=0.003 (last of 3)", "pause"]


def test_the_tournament_losses_have_readable_names():
    from ui.tournament import curves_charts

    series = (np.arange(5), np.ones(5))
    _, losses = curves_charts({"discriminator_loss": series, "expert_loss": series}, [])
    assert [trace.name for trace in losses.data] == ["discriminator", "winning experts"]


def test_a_stopped_runs_key_figures_are_figures():
    from ui.run_panel import key_figures

    run = SimpleNamespace(summary={"stopped": 1.0, "env_steps_done": 3097.0, "train_seconds": 41.5})
    assert key_figures(run) == "env_steps_done=3.1e+03, train_seconds=41.5"  # that it stopped is its status


def test_home_pictures_are_still_and_readable():
    from tools.home_pictures import FONT_SIZE, still
    from ui.figures import animation_controls

    play, slider = animation_controls(["0", "1"], 0, "▶ Play", frame_ms=100)
    animated = go.Figure(go.Heatmap(z=[[0, 1]]), frames=[go.Frame(data=[go.Heatmap(z=[[1, 0]])], name="1")])
    animated.update_layout(updatemenus=[{"type": "buttons", "buttons": [play]}], sliders=[slider])
    picture = still(animated, "A still", 800, 400)
    assert not picture.frames and not picture.layout.updatemenus and not picture.layout.sliders  # no play, no slider
    assert picture.layout.font.size == FONT_SIZE >= 16
