import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from engine.labs.meta_rl.bandits import TASKS, BanditEnv, instant_regret, observations, pull, sample_probs
from engine.params import ConfigError

N = 20_000


def test_independent_arms_are_uniform_and_uncorrelated():
    probs = sample_probs("independent", 3, N, np.random.default_rng(0))
    assert probs.shape == (N, 3)
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.allclose(probs.mean(axis=0), 0.5, atol=0.01)
    assert np.allclose(probs.var(axis=0), 1 / 12, atol=0.005)
    assert abs(np.corrcoef(probs[:, 0], probs[:, 1])[0, 1]) < 0.03
    assert np.allclose(np.quantile(probs[:, 0], [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.02)


def test_dependent_arms_are_p_and_one_minus_p():
    probs = sample_probs("dependent", 2, N, np.random.default_rng(1))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert abs(probs[:, 0].mean() - 0.5) < 0.01 and abs(probs[:, 0].var() - 1 / 12) < 0.005


@pytest.mark.parametrize(("task", "low", "high"), [("easy", 0.1, 0.9), ("medium", 0.25, 0.75), ("hard", 0.4, 0.6)])
@pytest.mark.parametrize("arms", [2, 5])
def test_two_point_families_have_one_good_arm_at_random(task, low, high, arms):
    probs = sample_probs(task, arms, N, np.random.default_rng(2))
    assert np.all((probs == high).sum(axis=1) == 1)
    assert np.all((probs == low).sum(axis=1) == arms - 1)
    good_arm_share = np.bincount(probs.argmax(axis=1), minlength=arms) / N
    assert np.allclose(good_arm_share, 1 / arms, atol=0.02)


@pytest.mark.parametrize("task", TASKS)
def test_env_passes_gymnasium_checker(task):
    check_env(BanditEnv(task, 2, 10), skip_render_check=True)


def test_env_plays_one_bandit_for_pulls_steps():
    env = BanditEnv("independent", 2, 50)
    obs, info = env.reset(seed=3)
    assert obs.tolist() == [0, 0, 0, 0] and info["probs"].shape == (2,)
    steps, terminated = 0, False
    while not terminated:
        obs, reward, terminated, _, info = env.step(1)
        steps += 1
        assert obs[:2].tolist() == [0, 1] and obs[2] == reward and obs[3] == pytest.approx(steps / 50)
        assert info["regret"] == pytest.approx(info["probs"].max() - info["probs"][1])
    assert steps == 50
    # the env draws its bandit with the shared sampler, from its seeded generator
    same = sample_probs("independent", 2, 1, np.random.default_rng(3))[0]
    assert np.array_equal(env.reset(seed=3)[1]["probs"], same)


def test_pull_pays_with_the_arm_probability():
    rng = np.random.default_rng(4)
    probs = np.tile([0.2, 0.7], (N, 1))
    rewards = pull(probs, np.ones(N, dtype=int), rng.random(N))
    assert abs(rewards.mean() - 0.7) < 0.01
    assert instant_regret(probs[:1], np.array([0]))[0] == pytest.approx(0.5)


def test_observation_is_previous_action_reward_and_time():
    obs = observations(np.array([-1, 2]), np.array([0.0, 1.0]), 5, 10, 3)
    assert obs.tolist() == [[0, 0, 0, 0, 0.5], [0, 0, 1, 1, 0.5]]


@pytest.mark.parametrize(("task", "arms"), [("dependent", 3), ("independent", 1), ("easy", 0), ("bogus", 2)])
def test_bad_arm_counts_are_config_errors(task, arms):
    with pytest.raises(ConfigError):
        sample_probs(task, arms, 1, np.random.default_rng(0))
    with pytest.raises(ConfigError):
        BanditEnv(task, arms)
