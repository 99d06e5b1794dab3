"""The second probe: does the dream *show* where you went? (The first, probe.py, asks whether it knows the odds.)

From a real start of each held-out episode (`lead_in` steps of its random play, which M reads too), "left" is held
`steps` steps and, from the same start, "right": in the game, and in M's dream from the same real (z, h) at a low τ,
on the same noise for both actions, decoded by V. Three figures:

    distance ratio  = mean_s |dream_L - dream_R| / mean_s |game_L - game_R|      (mean absolute pixel difference)
    which-way       = share of (start, action) whose dreamt picture is nearer the game's picture of the same action
                      than of the other one (a tie counts half)
    fireball recall = share of held-out frames showing a fireball whose V reconstruction shows one too (Doom)

and V's own ratio, |V(game_L) - V(game_R)| / |game_L - game_R|: where the pictures are lost, V or M.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from engine.labs.world_models.dream import DreamState, Noise, World, step
from engine.labs.world_models.probe import ProbeStates, real_memory
from engine.labs.world_models.vae import to_tensor, to_uint8

SIDES = ("left", "right")
SHOWN = 4  # starts whose pictures the page shows side by side
LEAD_IN = 20  # steps of each held-out episode's own random play before the probe's start (M reads them too)


def shows_fireball(frames: np.ndarray) -> np.ndarray:
    """(n,) bool: Doom frames (n, 64, 64, 3) with a fireball, at least 2 pixels of its yellow-orange
    (R > 180, G > 150, B < 120; the room's walls, floor and monsters have none)."""
    r, g, b = (frames[..., c].astype(np.int16) for c in range(3))
    return ((r > 180) & (g > 150) & (b < 120)).sum((1, 2)) >= 2


def picture_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference of uint8 pictures (..., 64, 64, C), in grey levels of 255, per picture."""
    return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean((-3, -2, -1))


def which_way(real: np.ndarray, dreamt: np.ndarray) -> float:
    """real, dreamt (S, 2, 64, 64, C): the share of (start, side) whose dreamt picture is nearer the game's picture
    of that side than the game's picture of the other side (a tie counts half)."""
    own = picture_distance(dreamt, real)
    other = picture_distance(dreamt, real[:, ::-1])
    return float(((own < other) + 0.5 * (own == other)).mean())


def distance_ratio(real: np.ndarray, pictures: np.ndarray) -> float:
    """How far apart `pictures` (S, 2, ...) of left and right are, against the game's own left and right."""
    return float(
        picture_distance(pictures[:, 0], pictures[:, 1]).mean() / picture_distance(real[:, 0], real[:, 1]).mean()
    )


def starts_of(states: ProbeStates, lead_in: int) -> ProbeStates:
    """Each held-out episode's state after `lead_in` steps of its random play (a shorter one's last but one)."""
    episode = np.flatnonzero([len(e) > 1 for e in states.episodes])
    at = np.array([min(lead_in, len(states.episodes[i]) - 1) for i in episode], np.int64)
    return ProbeStates(states.episodes, states.seeds, episode, at, np.zeros(len(episode), bool))


def real_pictures(
    make_env: Callable[[int], gym.Env], starts: ProbeStates, sides: list[int], steps: int, poll: Callable[[], None]
) -> np.ndarray:
    """(S, 2, 64, 64, C) uint8: the game replayed to each start, then each side held `steps` steps (its last frame
    if the game ended sooner)."""
    env = make_env(int(starts.seeds[0]))
    pictures = []
    try:
        for index, at in zip(starts.episode, starts.step, strict=True):
            row = []
            for action in sides:
                poll()
                env.reset(seed=int(starts.seeds[index]))
                for past in starts.episodes[index].actions[:at]:
                    env.step(past)
                for _ in range(steps):
                    frame, _, terminated, truncated, _ = env.step(action)
                    if terminated or truncated:
                        break
                row.append(frame)
            pictures.append(row)
    finally:
        env.close()
    return np.asarray(pictures, np.uint8)


@torch.no_grad()
def dreamt_pictures(
    world: World, starts: ProbeStates, sides: list[int], steps: int, tau: float, seed: int
) -> np.ndarray:
    """(S, 2, 64, 64, C) uint8: M's dream from each start's real (z, h), each side held `steps` steps at `tau`, both
    sides on the same noise (they differ by the action alone), the last z decoded by V."""
    begun = [real_memory(world, starts.episodes[i], at) for i, at in zip(starts.episode, starts.step, strict=True)]
    n, both = len(begun), len(sides)
    z = torch.cat([b[0] for b in begun]).repeat_interleave(both, 0)
    lstm = tuple(torch.cat([b[1][i] for b in begun], 1).repeat_interleave(both, 1) for i in range(2))
    hidden = torch.cat([b[2] for b in begun]).repeat_interleave(both, 0)
    state = DreamState(z, lstm, hidden, torch.ones(n * both, dtype=torch.bool), torch.zeros(n * both))
    actions = torch.as_tensor(sides).repeat(n)
    generator = torch.Generator().manual_seed(seed)
    shared = torch.arange(n).repeat_interleave(both)  # one noise row per start, for both of its sides
    for _ in range(steps):
        noise = Noise.draw(n, z.shape[-1], generator).rows(shared)
        state, _ = step(world, state, actions, tau, generator, noise)
    return to_uint8(world.vae.decode(state.z)).numpy().reshape(n, both, 64, 64, -1)


@torch.no_grad()
def reconstructed(world: World, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    """V's pictures of real frames (n, 64, 64, C): decoded from its mean codes."""
    out = [
        to_uint8(world.vae.decode(world.vae.encode(to_tensor(frames[i : i + batch]))[0])).numpy()
        for i in range(0, len(frames), batch)
    ]
    return np.concatenate(out) if out else frames[:0]


def fireball_recall(world: World, frames: np.ndarray) -> tuple[float, int]:
    """(the share of frames with a fireball whose reconstruction shows one, how many frames had one)."""
    shown = shows_fireball(frames)
    if not shown.any():
        return float("nan"), 0
    return float(shows_fireball(reconstructed(world, frames[shown])).mean()), int(shown.sum())


@dataclass
class Pictures:
    """The second probe's real side: its starts, the game's pictures there, and held-out frames for V's recall."""

    starts: ProbeStates
    sides: list[int]  # the actions of "left" and "right"
    real: np.ndarray  # (S, 2, 64, 64, C) real_pictures
    frames: np.ndarray  # (n, 64, 64, C) held-out frames (for fireball recall: Doom's only)
    steps: int
    fireballs: bool  # the game has Doom's fireballs

    def snapshot(self, world: World, tau: float, seed: int) -> dict[str, np.ndarray]:
        """What the page and the bench read (pictures_summary), with a few starts' pictures, real beside dreamt."""
        dreamt = dreamt_pictures(world, self.starts, self.sides, self.steps, tau, seed)
        recall, with_fireball = fireball_recall(world, self.frames) if self.fireballs else (float("nan"), 0)
        v_real = reconstructed(world, self.real.reshape(-1, *self.real.shape[2:])).reshape(self.real.shape)
        return {
            "which_way": np.float32(which_way(self.real, dreamt)),
            "distance_ratio": np.float32(distance_ratio(self.real, dreamt)),
            "v_ratio": np.float32(distance_ratio(self.real, v_real)),
            "fireball_recall": np.float32(recall),
            "fireball_frames": np.int64(with_fireball),
            "starts": np.int64(len(self.real)),
            "steps": np.int64(self.steps),
            "tau": np.float32(tau),
            "real": self.real[:SHOWN],
            "dreamt": dreamt[:SHOWN],
        }


def pictures_summary(snapshot: dict[str, np.ndarray]) -> dict[str, float]:
    """The second probe's figures from its snapshot (the page and the bench read the same)."""
    names = ("which_way", "distance_ratio", "v_ratio", "fireball_recall", "fireball_frames", "starts", "steps", "tau")
    return {name: round(float(snapshot[name]), 3) for name in names}


def make_pictures(
    make_env: Callable[[int], gym.Env],
    states: ProbeStates,
    actions: dict[str, int],
    steps: int,
    fireballs: bool,
    poll: Callable[[], None],
    frames: int = 2000,
) -> Pictures:
    """The second probe's starts (after LEAD_IN steps of each held-out episode), the game's pictures there, and up
    to `frames` held-out frames, evenly spaced, for V's fireball recall."""
    starts = starts_of(states, LEAD_IN)
    sides = [actions[name] for name in SIDES]
    every = np.concatenate([e.frames for e in states.episodes])
    held_out = every[np.linspace(0, len(every) - 1, min(frames, len(every))).astype(int)]
    return Pictures(starts, sides, real_pictures(make_env, starts, sides, steps, poll), held_out, steps, fireballs)
