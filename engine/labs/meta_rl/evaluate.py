"""Frozen-weight evaluation on held-out bandits: cumulative regret curves of the agent and every baseline.

Regret after t pulls = sum over pulls s <= t of (max_i p_i - p_{a_s}): expected reward lost to exploring
and to mistakes. Held-out bandits come from a random stream disjoint from the training stream, and every
method plays the same bandits with the same luck (see baselines.play).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.labs.meta_rl import agent, baselines
from engine.labs.meta_rl.bandits import instant_regret, sample_probs
from engine.labs.meta_rl.config import Config

TRAIN_STREAM, EVAL_STREAM, EXPLORE_STREAM = 0, 1, 2


def stream(seed: int, which: int) -> np.random.Generator:
    """Independent random streams from one seed: training never sees an evaluation bandit."""
    return np.random.default_rng([which, seed])


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    return torch.Generator().manual_seed(int(rng.integers(2**62)))


@dataclass(frozen=True)
class RegretCurve:
    mean: np.ndarray  # (pulls,) mean cumulative regret after each pull
    se: np.ndarray  # (pulls,) its standard error over episodes

    @classmethod
    def of(cls, probs: np.ndarray, actions: np.ndarray) -> RegretCurve:
        per_pull = np.stack([instant_regret(probs, actions[:, t]) for t in range(actions.shape[1])], axis=1)
        cumulative = per_pull.cumsum(axis=1)
        return cls(cumulative.mean(axis=0), cumulative.std(axis=0, ddof=1) / np.sqrt(len(cumulative)))

    @property
    def final(self) -> float:
        return float(self.mean[-1])

    @property
    def final_se(self) -> float:
        return float(self.se[-1])


def held_out_bandits(config: Config, episodes: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """The evaluation bandits (the same ones at every evaluation of a run), their payout luck, and an rng for play."""
    rng = stream(config.seed, EVAL_STREAM)
    probs = sample_probs(config.task, config.arms, episodes, rng)
    uniforms = rng.random((episodes, config.pulls, config.arms), dtype=np.float32)
    return probs, uniforms, rng


def evaluate_agent(model: agent.ActorCritic, config: Config, episodes: int) -> RegretCurve:
    """The frozen agent plays its most likely arm: its policy keeps some entropy from training (the entropy
    bonus), and that leftover randomness costs regret (measured: ~0.2 at pull 100) without informing anyone."""
    probs, uniforms, rng = held_out_bandits(config, episodes)
    return RegretCurve.of(probs, agent.play(model, probs, uniforms, torch_generator(rng), greedy=True).actions)


def evaluate_baselines(config: Config, episodes: int) -> dict[str, RegretCurve]:
    curves = {}
    for name, policy in baselines.baselines(config.task, config.arms, config.pulls).items():
        probs, uniforms, rng = held_out_bandits(config, episodes)
        curves[name] = RegretCurve.of(probs, baselines.play(policy, probs, uniforms, rng))
    return curves


def regret_snapshot(curves: dict[str, RegretCurve]) -> dict[str, np.ndarray]:
    """{"pulls": 1..T, "<method>_mean": (T,), "<method>_se": (T,)} for every method."""
    pulls = len(next(iter(curves.values())).mean)
    snapshot = {"pulls": np.arange(1, pulls + 1)}
    for name, curve in curves.items():
        snapshot[f"{name}_mean"], snapshot[f"{name}_se"] = curve.mean, curve.se
    return snapshot


def explore_episode(model: agent.ActorCritic, config: Config, seed: int = 0) -> dict[str, np.ndarray]:
    """One held-out bandit played greedily by the agent: what it did, what it got, its policy (`arm_probs`), and
    what an ideal learner would believe.

    posterior_mean[t, i] is the Beta(1,1)-posterior mean of arm i's payout before pull t, from the agent's own data.
    """
    rng = stream(config.seed + seed, EXPLORE_STREAM)
    probs = sample_probs(config.task, config.arms, 1, rng)
    uniforms = rng.random((1, config.pulls, config.arms), dtype=np.float32)
    played = agent.play(model, probs, uniforms, torch_generator(rng), greedy=True)  # as evaluated
    actions, rewards = played.actions[0], played.rewards[0]
    pulled = np.eye(config.arms)[actions]  # (pulls, arms) one-hot
    successes = np.cumsum(pulled * rewards[:, None], axis=0) - pulled * rewards[:, None]  # counts before pull t
    tries = np.cumsum(pulled, axis=0) - pulled
    return {
        "probs": probs[0],
        "actions": actions,
        "rewards": rewards,
        "arm_probs": played.arm_probs[0],
        "posterior_mean": (successes + 1) / (tries + 2),
        "cumulative_regret": np.cumsum(instant_regret(np.repeat(probs, len(actions), 0), actions)),
    }
