"""The real game: episodes played by a policy in a few environments at once, each refilled with the next
episode as soon as its last one ends.

Two policies: the paper's random policy (each action held for 1 to `repeat` steps, for more varied movement than
per-step coin flips) and C acting on [z, h] exactly as in the dream: z = V's mean for the frame, h = M's memory of
the episode so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch

from engine.labs.world_models.vae import to_tensor


@dataclass
class Episode:
    frames: np.ndarray  # uint8 (T+1, 64, 64, C): the first frame and the frame after each step
    actions: np.ndarray  # (T,) int64 or (T, A) float32
    rewards: np.ndarray  # float32 (T,)
    terminated: bool  # the last step ended the game (a death, not the time limit)
    damage: np.ndarray  # float32 (T,) health lost at each step (Doom's fireball hits; 0 in games without health)

    def __len__(self) -> int:
        return len(self.rewards)


def mirrored(episode: Episode, actions: tuple[int, ...]) -> Episode:
    """The episode in a mirror, for a left-right symmetric game: every frame flipped, each action by its mirror image
    (`actions[a]`); the same rewards and hits."""
    return Episode(
        episode.frames[:, :, ::-1],
        np.asarray(actions)[episode.actions],
        episode.rewards,
        episode.terminated,
        episode.damage,
    )


class Policy(Protocol):
    def act(self, frames: np.ndarray, fresh: np.ndarray) -> list:
        """Actions for every slot's current frame (S, 64, 64, C); `fresh` (S,) marks slots whose episode just
        began (forget them)."""


class RandomPolicy:
    """Uniformly random actions, each repeated for 1 to `repeat` steps (repeat 1: a fresh action every step)."""

    def __init__(self, action_space: gym.Space, repeat: int, seed: int):
        self.space, self.repeat = action_space, repeat
        self.space.seed(seed)
        self.rng = np.random.default_rng(seed)
        self.held: list = []
        self.left = np.zeros(0, np.int64)

    def act(self, frames: np.ndarray, fresh: np.ndarray) -> list:
        if len(self.left) < len(frames):  # the first call: one held action per slot
            self.held, self.left = [None] * len(frames), np.zeros(len(frames), np.int64)
        self.left[: len(fresh)][fresh] = 0
        for i in range(len(frames)):
            if self.left[i] == 0:
                self.held[i], self.left[i] = self.space.sample(), self.rng.integers(1, self.repeat + 1)
            self.left[i] -= 1
        return self.held[: len(frames)]


class ControllerPolicy:
    """C on [z, h] in the real game, with a chance `exploration` of a random action at each step."""

    def __init__(self, world, params: torch.Tensor, exploration: float, action_space: gym.Space, seed: int):
        self.world, self.params, self.exploration = world, params, exploration
        self.random = RandomPolicy(action_space, 1, seed)
        self.rng = np.random.default_rng(seed)
        self.lstm = world.rnn.initial_state(0)
        self.hidden = torch.zeros(0, world.rnn.hidden)

    @torch.no_grad()
    def act(self, frames: np.ndarray, fresh: np.ndarray) -> list:
        n, keep = len(frames), torch.as_tensor(~fresh, dtype=torch.float32)
        if len(self.hidden) < n:  # the first call: M's memory for every slot
            self.lstm, self.hidden = self.world.rnn.initial_state(n), torch.zeros(n, self.world.rnn.hidden)
        lstm = tuple(state[:, :n] * keep[None, :, None] for state in self.lstm)
        hidden = self.hidden[:n] * keep[:, None]
        z, _ = self.world.vae.encode(to_tensor(frames))
        chosen = self.world.controller.act(self.params.unsqueeze(0), torch.cat([z, hidden], -1).unsqueeze(0))[0]
        actions = list(chosen.numpy())
        if self.exploration > 0:
            random = self.random.act(frames, fresh)
            actions = [
                r if flip else a
                for r, a, flip in zip(random, actions, self.rng.random(n) < self.exploration, strict=False)
            ]
        self.hidden, self.lstm = remember(self.world, z, np.stack(actions), lstm)
        return actions


@torch.no_grad()
def remember(
    world, z: torch.Tensor, actions, lstm: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """M beside the real game: its memory h (N, H) and LSTM state once it has read one real step (z, a) of each of
    N episodes, z = V's mean of the frame, a the action taken."""
    taken = world.controller.action_vectors(torch.as_tensor(actions))
    out, lstm = world.rnn.lstm(torch.cat([z, taken], -1).unsqueeze(1), lstm)
    return out[:, -1], lstm


def episode_seeds(seed: int, episodes: int) -> np.ndarray:
    """The reset seed of each of `play`'s episodes: replaying one (ViZDoom is deterministic) starts from it."""
    return np.random.default_rng([seed, 7]).integers(2**31, size=episodes)


def play(
    make_env: Callable[[int], gym.Env],
    policy: Policy,
    episodes: int,
    seed: int,
    poll: Callable[[], None],
    slots: int,
    max_steps: int | None = None,
    progress: Callable[[float], None] | None = None,
    keep_frames: bool = True,
) -> list[Episode]:
    """`episodes` real episodes on `slots` environments in lockstep (the policy sees all their frames as one batch),
    episode i seeded from (seed, i) whichever slot plays it; at most `max_steps` steps
    each (None: the game's own end). `poll` is called every step (it raises to stop). keep_frames False: each
    episode keeps only its last frame (scoring 100 Doom episodes would otherwise hold a gigabyte of frames)."""
    seeds = episode_seeds(seed, episodes)
    envs = [make_env(int(seeds[0])) for _ in range(min(slots, episodes))]
    played: list[Episode | None] = [None] * episodes
    slot_episode = list(range(len(envs)))  # which episode each slot plays; -1 = idle
    frames = [[env.reset(seed=int(seeds[i]))[0]] for i, env in enumerate(envs)]
    actions: list[list] = [[] for _ in envs]
    rewards: list[list[float]] = [[] for _ in envs]
    damage: list[list[float]] = [[] for _ in envs]
    health = [100.0] * len(envs)
    fresh = np.ones(len(envs), bool)
    next_episode, finished = len(envs), 0
    try:
        while finished < episodes:
            poll()
            chosen = policy.act(np.stack([f[-1] for f in frames]), fresh)
            fresh[:] = False
            for i, env in enumerate(envs):
                if slot_episode[i] < 0:
                    continue
                frame, reward, terminated, truncated, info = env.step(chosen[i])
                damage[i].append(max(health[i] - info.get("health", health[i]), 0.0))
                health[i] = info.get("health", health[i])
                if keep_frames:
                    frames[i].append(frame)
                else:
                    frames[i][-1] = frame
                actions[i].append(chosen[i])
                rewards[i].append(float(reward))
                if terminated or truncated or (max_steps is not None and len(rewards[i]) >= max_steps):
                    played[slot_episode[i]] = Episode(
                        np.stack(frames[i]),
                        np.stack(actions[i]),
                        np.array(rewards[i], np.float32),
                        bool(terminated),
                        np.array(damage[i], np.float32),
                    )
                    finished += 1
                    if progress:
                        progress(finished / episodes)
                    if next_episode < episodes:
                        slot_episode[i], fresh[i] = next_episode, True
                        first, info = env.reset(seed=int(seeds[next_episode]))
                        frames[i], actions[i], rewards[i], damage[i] = [first], [], [], []
                        health[i] = info.get("health", 100.0)
                        next_episode += 1
                    else:
                        slot_episode[i] = -1
    finally:
        for env in envs:
            env.close()
    return played  # type: ignore[return-value]


def scores(episodes: list[Episode]) -> np.ndarray:
    return np.array([episode.rewards.sum() for episode in episodes])


def mean_and_error(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
