"""Replay of whole trajectories, relabelled at sampling time (as in HER and the TDM paper): `relabel` gives each
sampled transition its goal and its horizon τ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.labs.tdm.envs import sample_free


@dataclass
class Batch:
    state: np.ndarray  # (n, 2) s_t
    action: np.ndarray  # (n, 2) a_t
    next_state: np.ndarray  # (n, 2) s_{t+1}
    goal: np.ndarray  # (n, 2) relabelled
    tau: np.ndarray  # (n,) relabelled horizons; all 0 for DDPG
    later_state: np.ndarray  # (n, 2) s_{t+j} of the same trajectory, j uniform in 1 … max(τ, 1)
    later_tau: np.ndarray  # (n,) the actions left there: τ - j (unused where τ = 0)


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

    def state(self) -> dict[str, torch.Tensor]:
        return {
            "states": torch.from_numpy(self.states),
            "actions": torch.from_numpy(self.actions),
            "goals": torch.from_numpy(self.goals),
            "lengths": torch.from_numpy(self.lengths),
            "place": torch.tensor([self.current, self.stored]),
        }

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.states, self.actions, self.goals, self.lengths = (
            state[name].numpy().copy() for name in ("states", "actions", "goals", "lengths")
        )
        self.current, self.stored = (int(x) for x in state["place"])

    @property
    def transitions(self) -> int:
        return int(self.lengths.sum())

    def sample(
        self, size: int, rng: np.random.Generator, future: float, random: float, tau_max: int, walls: tuple
    ) -> Batch:
        """Transitions drawn uniformly, each relabelled (`relabel`), with a later state of its own trajectory.
        Past the episode's end the later state is its last one: the agent may always stay there."""
        episode = rng.choice(np.flatnonzero(self.lengths[: self.stored] > 0), size)
        length = self.lengths[episode]
        t = (rng.random(size) * length).astype(int)
        goal, tau = relabel(self.goals[episode], self.states[episode], length, t, rng, future, random, tau_max, walls)
        j = 1 + (rng.random(size) * np.maximum(tau, 1)).astype(int)
        return Batch(
            self.states[episode, t],
            self.actions[episode, t],
            self.states[episode, t + 1],
            goal,
            tau,
            self.states[episode, np.minimum(t + j, length)],
            np.maximum(tau - j, 0),
        )


def relabel(
    episode_goal: np.ndarray,
    trajectory: np.ndarray,
    length: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    future: float,
    random: float,
    tau_max: int,
    walls: tuple,
) -> tuple[np.ndarray, np.ndarray]:
    """The goal and the horizon τ of each sampled transition (s_t, a_t, s_{t+1}) of a trajectory (states (n, T, 2),
    `length` steps long).

    goal: with probability `future` a state achieved later in the same trajectory (s_{t+k}, k uniform in
    1 … length - t); with probability `random` a point drawn uniformly from free space (so the heatmap's far-away
    goals are trained too); otherwise the goal the episode was played for.
    τ: uniform in {0, …, τ_max}, so every transition trains every horizon (τ_max = 0 for DDPG)."""
    size = len(t)
    goal = episode_goal.copy()
    draw = rng.random(size)
    later = draw < future
    achieved_at = t + 1 + (rng.random(size) * (length - t)).astype(int)
    goal[later] = trajectory[later, achieved_at[later]]
    anywhere = (draw >= future) & (draw < future + random)
    goal[anywhere] = sample_free(rng, int(anywhere.sum()), walls)
    return goal, rng.integers(0, tau_max + 1, size)
