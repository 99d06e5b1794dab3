"""What the lab pages' figures say: legends, markers, readings (no server, no torch)."""

from types import SimpleNamespace

from ui.meta_rl import ablation_of


def meta_rl_run(run_id: int, reward_input: bool = True, **config):
    return SimpleNamespace(id=run_id, config={"lr": 1e-3, "hidden": 8, **config, "reward_input": reward_input})


def test_only_a_run_without_the_reward_input_is_an_ablation():
    run, other_ordinary, ablation = meta_rl_run(3), meta_rl_run(2), meta_rl_run(1, reward_input=False)
    assert ablation_of(run, [other_ordinary]) is None  # two ordinary runs: no "agent without reward input"
    assert ablation_of(run, [other_ordinary, ablation]) is ablation
    assert ablation_of(run, [meta_rl_run(4, reward_input=False, lr=3e-3)]) is None  # other values: not its ablation
    assert ablation_of(ablation, [run]) is None  # an ablation has no ablation of its own
