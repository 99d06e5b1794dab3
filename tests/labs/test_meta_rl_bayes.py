import numpy as np
import pytest

from engine.labs.meta_rl.bandits import sample_probs
from engine.labs.meta_rl.baselines import baselines, play
from engine.labs.meta_rl.bayes import bayes_optimal
from engine.labs.meta_rl.evaluate import RegretCurve

GRID = (np.arange(400) + 0.5) / 400  # midpoints: integrals over p in [0, 1] by the midpoint rule


def hypotheses(task: str) -> np.ndarray:
    """Every bandit the family can be, as rows of (p_arm0, p_arm1), each equally likely a priori."""
    if task == "independent":
        p0, p1 = np.meshgrid(GRID, GRID, indexing="ij")
        return np.stack([p0.ravel(), p1.ravel()], axis=1)
    if task == "dependent":
        return np.stack([GRID, 1 - GRID], axis=1)
    return {"easy": np.array([[0.9, 0.1], [0.1, 0.9]]), "hard": np.array([[0.6, 0.4], [0.4, 0.6]])}[task]


def expectimax(bandits: np.ndarray, weights: np.ndarray, pulls_left: int) -> float:
    """Brute force: enumerate every (arm, reward) history; beliefs are raw weights over whole bandits."""
    if pulls_left == 0:
        return 0.0
    best = -np.inf
    for arm in (0, 1):
        pays = float(weights @ bandits[:, arm] / weights.sum())
        win = expectimax(bandits, weights * bandits[:, arm], pulls_left - 1)
        lose = expectimax(bandits, weights * (1 - bandits[:, arm]), pulls_left - 1)
        best = max(best, pays * (1 + win) + (1 - pays) * lose)
    return best


@pytest.mark.parametrize("task", ["independent", "dependent", "easy", "hard"])
@pytest.mark.parametrize("pulls", [1, 4])
def test_dynamic_programme_matches_brute_force_expectimax(task, pulls):
    bandits = hypotheses(task)
    value = expectimax(bandits, np.ones(len(bandits)), pulls)
    brute_force_regret = pulls * bandits.max(axis=1).mean() - value
    assert bayes_optimal(task, 2, pulls).expected_regret == pytest.approx(brute_force_regret, abs=2e-4)


def test_known_values_at_100_pulls():
    assert bayes_optimal("independent", 2, 100).expected_regret == pytest.approx(1.748, abs=1e-3)
    assert bayes_optimal("dependent", 2, 100).expected_regret == pytest.approx(1.221, abs=1e-3)


def test_no_exact_policy_beyond_two_arms():
    assert bayes_optimal("independent", 3, 20) is None
    assert "bayes" not in baselines("independent", 3, 20)


@pytest.mark.parametrize("task", ["independent", "dependent"])
def test_bayes_policy_beats_thompson_and_achieves_its_own_value(task):
    rng = np.random.default_rng(0)
    probs = sample_probs(task, 2, 3000, rng)
    uniforms = rng.random((3000, 100, 2))
    policies = baselines(task, 2, 100)
    bayes = RegretCurve.of(probs, play(policies["bayes"], probs, uniforms, np.random.default_rng(1)))
    thompson = RegretCurve.of(probs, play(policies["thompson"], probs, uniforms, np.random.default_rng(1)))
    assert bayes.final + 3 * bayes.final_se < thompson.final
    assert bayes.final == pytest.approx(bayes_optimal(task, 2, 100).expected_regret, abs=4 * bayes.final_se)
