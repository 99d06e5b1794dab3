"""Classic bandit algorithms, run on the same bandits as the agent.

Every baseline is a function of the per-arm success/failure counts so far: (successes, failures, t, rng)
-> one arm per bandit, for a whole batch of bandits at once. `play` runs one over a batch of episodes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.labs.meta_rl.bandits import pull
from engine.labs.meta_rl.bayes import TIE, bayes_optimal

Policy = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]


def random_argmax(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """argmax per row, ties broken uniformly at random."""
    best = scores == scores.max(axis=1, keepdims=True)
    return np.argmax(np.where(best, rng.random(scores.shape), -1.0), axis=1)


def random_arm(successes: np.ndarray, failures: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(successes.shape[1], size=len(successes))


def greedy(successes: np.ndarray, failures: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """Highest posterior mean under Beta(1,1) priors: never explores on purpose."""
    return random_argmax((successes + 1) / (successes + failures + 2), rng)


def thompson(successes: np.ndarray, failures: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """Pull the arm whose draw from its Beta(1 + s, 1 + f) posterior is highest."""
    return random_argmax(rng.beta(successes + 1, failures + 1), rng)


def ucb1(successes: np.ndarray, failures: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """Auer et al. 2002: every arm once, then the highest mean + sqrt(2 ln t / n_i)."""
    tries = successes + failures
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = successes / tries + np.sqrt(2 * np.log(max(t, 1)) / tries)
    return random_argmax(np.where(tries == 0, np.inf, scores), rng)


def bayes_policy(task: str, arms: int, pulls: int) -> Policy | None:
    """The exact Bayes-optimal policy for the family (bayes.py), or None where it cannot be computed."""
    solved = bayes_optimal(task, arms, pulls)
    if solved is None:
        return None

    def choose(successes: np.ndarray, failures: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        arm = solved.preferred_arm(successes, failures, t).astype(np.int64)
        return np.where(arm == TIE, rng.integers(arms, size=len(arm)), arm)

    return choose


def baselines(task: str, arms: int, pulls: int) -> dict[str, Policy]:
    """Every baseline that exists for this family, best first."""
    found = {"bayes": bayes_policy(task, arms, pulls)}
    found |= {"thompson": thompson, "ucb1": ucb1, "greedy": greedy, "random": random_arm}
    return {name: policy for name, policy in found.items() if policy is not None}


def play(policy: Policy, probs: np.ndarray, uniforms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Run a policy on n bandits for a full episode; returns its actions, (n, pulls).

    uniforms[i, t, a] decides the payout if bandit i's arm a is pulled at t, so every method sees the same luck.
    """
    n, pulls, arms = uniforms.shape
    successes = np.zeros((n, arms), dtype=np.int64)
    failures = np.zeros((n, arms), dtype=np.int64)
    actions = np.zeros((n, pulls), dtype=np.int64)
    rows = np.arange(n)
    for t in range(pulls):
        action = policy(successes, failures, t, rng)
        reward = pull(probs, action, uniforms[rows, t, action])
        successes[rows, action] += reward.astype(np.int64)
        failures[rows, action] += 1 - reward.astype(np.int64)
        actions[:, t] = action
    return actions
