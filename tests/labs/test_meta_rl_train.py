import io

import numpy as np
import pytest
import torch

from engine.context import LocalContext
from engine.labs.meta_rl.agent import ActorCritic, play
from engine.labs.meta_rl.bandits import observations, pull
from engine.labs.meta_rl.config import SPACE
from engine.labs.meta_rl.train import bench, leave_one_out, train
from engine.params import ConfigError

TINY = {"updates": 4, "batch": 8, "hidden": 8, "pulls": 10, "eval_every": 2, "eval_episodes": 50}
METHODS = ("agent", "bayes", "thompson", "ucb1", "greedy", "random")


def run(overrides: dict, **ctx_options) -> tuple[dict, LocalContext]:
    config = SPACE.resolve("quick", TINY | overrides)
    ctx = LocalContext(config, **ctx_options)
    return train(config, ctx), ctx


def test_short_training_beats_random_on_held_out_bandits():
    summary, _ = run({"updates": 50, "batch": 64, "hidden": 16, "minibatches": 2, "eval_episodes": 1000, "gamma": 0.5})
    assert summary["agent_regret"] + 3 * summary["agent_regret_se"] < summary["random_regret"]


def test_metrics_snapshots_and_checkpoint_have_the_documented_format():
    summary, ctx = run({})
    assert {"loss", "reward", "regret", "entropy", "value_loss", "eval_regret"} <= set(ctx.metrics)
    assert [step for step, _ in ctx.metrics["loss"]] == [1, 2, 3, 4]
    assert [step for step, _ in ctx.metrics["eval_regret"]] == [2, 4]

    step, regret = ctx.snapshots["regret"]
    assert step == 4
    assert set(regret) == {"pulls"} | {f"{m}_{stat}" for m in METHODS for stat in ("mean", "se")}
    assert regret["pulls"].tolist() == list(range(1, 11))
    assert all(isinstance(v, np.ndarray) and v.shape == (10,) for v in regret.values())
    assert np.all(np.diff(regret["random_mean"]) >= 0)  # cumulative regret never falls

    _, episode = ctx.snapshots["episode"]
    assert {k: v.shape for k, v in episode.items()} == {
        "probs": (2,),
        "actions": (10,),
        "rewards": (10,),
        "arm_probs": (10, 2),
        "posterior_mean": (10, 2),
        "cumulative_regret": (10,),
    }
    assert np.allclose(episode["arm_probs"].sum(axis=1), 1)
    assert np.allclose(episode["posterior_mean"][0], 0.5)

    buffer = io.BytesIO()
    torch.save(ctx.checkpoints[-1], buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    model = ActorCritic(2, 8)
    model.load_state_dict(state["model"])
    assert state["config"]["hidden"] == 8
    assert summary["stopped"] == 0.0 and summary["agent_regret"] == regret["agent_mean"][-1]


def test_leave_one_out_cancels_what_copies_of_a_bandit_share():
    luck = torch.randn(6, 5)
    difficulty = torch.tensor([10.0, -3.0]).repeat_interleave(3)[:, None]  # two bandits, three copies each
    centred = leave_one_out(luck + difficulty, group=3)
    assert torch.allclose(centred, leave_one_out(luck, group=3), atol=1e-5)
    assert torch.allclose(centred.reshape(2, 3, 5).sum(dim=1), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(leave_one_out(luck[:2], group=2)[0], luck[0] - luck[1])


def test_batch_must_split_into_groups():
    with pytest.raises(ConfigError):
        SPACE.resolve("quick", TINY | {"batch": 12, "group": 8})


def test_learning_rate_decays_to_zero_from_the_live_value():
    _, ctx = run({"updates": 10, "lr": 0.01})
    lrs = [lr for _, lr in ctx.metrics["lr"]]
    assert lrs[0] == 0.01 and all(np.diff(lrs) < 0) and lrs[-1] < 0.01 / 5


def test_play_sees_what_bandits_observations_describes_and_greedy_takes_the_likeliest_arm():
    rng = np.random.default_rng(0)
    probs, uniforms = rng.random((16, 2)), rng.random((16, 10, 2), dtype=np.float32)
    model = ActorCritic(2, 8)
    for greedy in (False, True):
        played = play(model, probs, uniforms, torch.Generator().manual_seed(0), greedy=greedy)
        action, reward = np.full(16, -1), np.zeros(16)
        for t in range(10):
            assert np.allclose(played.obs[:, t].numpy(), observations(action, reward, t, 10, 2))
            action, reward = played.actions[:, t], played.rewards[:, t]
            assert np.array_equal(reward, pull(probs, action, uniforms[np.arange(16), t, action]))
    assert np.array_equal(played.actions, played.arm_probs.argmax(axis=-1))


class LearningRateToZero(LocalContext):
    """Simulates a user dragging the lr slider to zero after the first update."""

    def poll(self) -> bool:
        if self.polls >= 1:
            self.params["lr"] = 0.0
        return super().poll()


def weights(ctx: LocalContext, index: int) -> list[torch.Tensor]:
    return list(ctx.checkpoints[index]["model"].values())


def test_live_learning_rate_reaches_the_optimizer():
    frozen_config = SPACE.resolve("quick", TINY | {"eval_every": 1})
    frozen = LearningRateToZero(frozen_config)
    train(frozen_config, frozen)
    assert all(torch.equal(a, b) for a, b in zip(weights(frozen, 0), weights(frozen, -1), strict=True))
    _, learning = run({"eval_every": 1})  # control: without the change the weights move
    assert not all(torch.equal(a, b) for a, b in zip(weights(learning, 0), weights(learning, -1), strict=True))


def test_stop_ends_training_cleanly_and_keeps_the_weights():
    summary, ctx = run({"updates": 1000}, stop_after_polls=3)
    assert summary["stopped"] == 1.0 and summary["updates_done"] == 3.0
    assert len(ctx.metrics["loss"]) == 3
    assert "model" in ctx.checkpoints[-1]


def test_reward_input_ablation_trains_and_cannot_see_rewards():
    summary, ctx = run({"reward_input": False})
    assert summary["updates_done"] == TINY["updates"] and len(ctx.metrics["loss"]) == TINY["updates"]
    obs = torch.rand(3, 5, 4)
    rewarded = obs.clone()
    rewarded[..., 2] = 1 - obs[..., 2]  # only the reward column changes
    blind, seeing = ActorCritic(2, 8, reward_input=False), ActorCritic(2, 8)
    assert torch.equal(blind(obs)[0], blind(rewarded)[0])  # the same network, blind to the change
    assert not torch.equal(seeing(obs)[0], seeing(rewarded)[0])  # the same network, seeing it


def test_runs_are_reproducible_from_their_config():
    first, _ = run({})
    second, _ = run({})
    assert first["agent_regret"] == second["agent_regret"]


def test_bench_reports_every_method_for_each_task():
    config = SPACE.resolve("quick", TINY | {"bench_tasks": "independent,dependent"})
    result = bench(config, LocalContext(config))
    assert set(result["tasks"]) == {"independent", "dependent"}
    for task in result["tasks"].values():
        assert set(task["regret"]) == set(METHODS)
        assert all(set(r) == {"mean", "se"} for r in task["regret"].values())


@pytest.mark.parametrize("tasks", ["", "independent,bogus"])
def test_bench_rejects_unknown_tasks(tasks):
    config = SPACE.resolve("quick", TINY | {"bench_tasks": tasks})
    with pytest.raises(ConfigError):
        bench(config, LocalContext(config))
