"""Bernoulli bandit task families: one vectorised numpy sampler per family, and a gymnasium.Env on top of it.

A task is a vector of arm success probabilities p (one per arm), drawn once per episode; an episode is
`pulls` pulls. The trainer, the evaluator and the gym env all draw tasks with `sample_probs`, so each
family has exactly one definition.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from engine.params import ConfigError

TASKS = ("independent", "dependent", "easy", "medium", "hard")

# Two-point families: one arm (at random) pays with the high probability, every other arm with the low one.
TWO_POINT = {"easy": (0.1, 0.9), "medium": (0.25, 0.75), "hard": (0.4, 0.6)}


def check_arms(task: str, arms: int) -> None:
    """Raise ConfigError for a task/arm-count pair that does not exist."""
    if task not in TASKS:
        raise ConfigError(f"task: {task!r} is not one of {', '.join(TASKS)}")
    if arms < 2:
        raise ConfigError(f"arms: a bandit needs at least 2 arms, got {arms}")
    if task == "dependent" and arms != 2:
        raise ConfigError(f"arms: dependent arms (p, 1-p) exist only for 2 arms, got {arms}")


def sample_probs(task: str, arms: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n tasks of the family, as an (n, arms) array of success probabilities."""
    check_arms(task, arms)
    if task == "independent":  # p_i ~ U[0, 1], each arm on its own
        return rng.random((n, arms))
    if task == "dependent":  # (p, 1 - p), p ~ U[0, 1]: pulling either arm says something about both
        p = rng.random(n)
        return np.stack([p, 1.0 - p], axis=1)
    low, high = TWO_POINT[task]
    probs = np.full((n, arms), low)
    probs[np.arange(n), rng.integers(arms, size=n)] = high
    return probs


def pull(probs: np.ndarray, actions: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Rewards (0/1 floats) for a batch of pulls; `uniforms` ~ U[0,1) per bandit are the only randomness."""
    return (uniforms < probs[np.arange(len(actions)), actions]).astype(np.float64)


def instant_regret(probs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """max_i p_i - p_{a}: the expected reward lost by this pull, per bandit."""
    return probs.max(axis=1) - probs[np.arange(len(actions)), actions]


def observations(prev_actions: np.ndarray, prev_rewards: np.ndarray, t: int, pulls: int, arms: int) -> np.ndarray:
    """What the agent sees before pull t: one-hot previous action (zeros at t=0), previous reward, t / pulls."""
    n = len(prev_actions)
    obs = np.zeros((n, arms + 2), dtype=np.float32)
    pulled = prev_actions >= 0
    obs[np.flatnonzero(pulled), prev_actions[pulled]] = 1.0
    obs[:, arms] = prev_rewards
    obs[:, arms + 1] = t / pulls
    return obs


class BanditEnv(gym.Env):
    """One bandit per episode, `pulls` pulls long. Observation: see `observations`. Reward: the 0/1 payout.

    `info["probs"]` holds the arm probabilities (for analysis only: the agent must not see them) and
    `info["regret"]` the instantaneous regret of the last pull.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, task: str = "independent", arms: int = 2, pulls: int = 100):
        check_arms(task, arms)
        self.task, self.arms, self.pulls = task, arms, pulls
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(arms + 2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(arms)
        self.probs = np.zeros(arms)
        self.t = 0

    def _obs(self, prev_action: int, prev_reward: float) -> np.ndarray:
        return observations(np.array([prev_action]), np.array([prev_reward]), self.t, self.pulls, self.arms)[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.probs = sample_probs(self.task, self.arms, 1, self.np_random)[0]
        self.t = 0
        return self._obs(-1, 0.0), {"probs": self.probs.copy()}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = int(action)
        reward = float(pull(self.probs[None], np.array([action]), self.np_random.random(1))[0])
        regret = float(instant_regret(self.probs[None], np.array([action]))[0])
        self.t += 1
        terminated = self.t >= self.pulls
        return self._obs(action, reward), reward, terminated, False, {"probs": self.probs.copy(), "regret": regret}
