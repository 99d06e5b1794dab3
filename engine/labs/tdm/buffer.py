"""Replay of whole trajectories, with goals relabelled at sampling time (as in HER and the TDM paper).

Each sampled transition (s_t, a_t, s_{t+1}) gets, with probability `future`, a goal achieved later in the same
trajectory (s_{t+k}, k ≥ 1); with probability `random`, a goal drawn uniformly from free space (so the heatmap's
far-away goals are trained too); otherwise the goal the episode was played for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.labs.tdm.envs import sample_free


@dataclass
class Batch:
    state: np.ndarray  # (n, 2)
    action: np.ndarray  # (n, 2)
    next_state: np.ndarray  # (n, 2)
    goal: np.ndarray  # (n, 2)


class TrajectoryBuffer:
    def __init__(self, episodes: int, steps: int):
        self.states = np.zeros((episodes, steps + 1, 2))
        self.actions = np.zeros((episodes, steps, 2))
        self.goals = np.zeros((episodes, 2))
        self.lengths = np.zeros(episodes, dtype=int)
        self.current = -1
        self.stored = 0  # episodes begun so far (the buffer is a ring once full)

    def begin(self, state: np.ndarray, goal: np.ndarray) -> None:
        self.current = (self.current + 1) % len(self.goals)
        self.states[self.current, 0], self.goals[self.current] = state, goal
        self.lengths[self.current] = 0
        self.stored = min(self.stored + 1, len(self.goals))

    def add(self, action: np.ndarray, next_state: np.ndarray) -> None:
        t = self.lengths[self.current]
        self.actions[self.current, t], self.states[self.current, t + 1] = action, next_state
        self.lengths[self.current] = t + 1

    @property
    def transitions(self) -> int:
        return int(self.lengths.sum())

    def sample(self, size: int, rng: np.random.Generator, future: float, random: float, walls: tuple) -> Batch:
        with_steps = np.flatnonzero(self.lengths[: self.stored] > 0)
        episode = rng.choice(with_steps, size)
        length = self.lengths[episode]
        t = (rng.random(size) * length).astype(int)
        goal = self.goals[episode].copy()
        draw = rng.random(size)
        later = draw < future
        achieved_at = t + 1 + (rng.random(size) * (length - t)).astype(int)  # uniform over t+1 … length
        goal[later] = self.states[episode[later], achieved_at[later]]
        anywhere = (draw >= future) & (draw < future + random)
        goal[anywhere] = sample_free(rng, int(anywhere.sum()), walls)
        return Batch(self.states[episode, t], self.actions[episode, t], self.states[episode, t + 1], goal)
