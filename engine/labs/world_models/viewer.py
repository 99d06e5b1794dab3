"""What the dream viewer shows, computed by the worker: a real episode beside M's dreams of it at several τ.

Every dream starts from the same code of the real first frame (one draw from V's posterior) and follows the real
episode's actions, so each frame can be compared with the real one and the dreams of one τ differ only by the noise τ
lets in. Per τ, `COUNTED_DREAMS` dreams measure how often M ends a dream before the real episode ended; the first
`SHOWN_DREAMS` are kept as latents (small) and decoded by V in the app, once per (run, step, τ). The episode's frames
and actions are also where a visitor's dreams start (real_start).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.labs.world_models.dream import DreamState, World, step
from engine.labs.world_models.mdn_rnn import LOGS_PER_STAGE
from engine.labs.world_models.probe import real_memory
from engine.labs.world_models.rollouts import Episode
from engine.labs.world_models.vae import to_tensor, to_uint8

VIEW_TAUS = (0.1, 0.3, 0.5, 0.75, 1.0, 1.15, 1.3, 1.6, 2.0)  # the slider's stops, the τ table's among them
VIEW_STEPS = 120
VIEWS_PER_ROUND = 4  # viewer snapshots while M trains
SHOWN_DREAMS = 4  # dreams per τ side by side in the viewer
COUNTED_DREAMS = 32  # dreams per τ that measure how often M ends them early


def viewer_due(update: int, updates: int) -> bool:
    """Whether M's update `update` (1-based, one M logs at) of `updates` refreshes the viewer (the app watches the
    same rule): every few of M's logs, and its last."""
    every = max(1, updates // LOGS_PER_STAGE) * max(1, LOGS_PER_STAGE // VIEWS_PER_ROUND)
    return update == updates or update % every == 0


def viewer_episode(episodes: list[Episode]) -> Episode:
    """The real episode the viewer replays: the first that ends in a death within the clip, else the first."""
    return next((e for e in episodes if e.terminated and len(e) <= VIEW_STEPS), episodes[0])


@torch.no_grad()
def dreams_of(
    world: World, episode: Episode, seed: int, dreams: int, taus: tuple[float, ...] = VIEW_TAUS
) -> dict[str, np.ndarray]:
    """`dreams` dreams per τ of the episode's first VIEW_STEPS steps, from one code of its first frame, under its
    actions. latents: float32 (K, D, T+1, z); death: float32 (K, D, T) M's P(the dream ends) per step; lengths:
    (K, D) the steps each dream lived (T: it outlived the clip)."""
    steps = min(len(episode), VIEW_STEPS)
    actions = torch.as_tensor(episode.actions[:steps])
    mu, logvar = world.vae.encode(to_tensor(episode.frames[:1]))
    generator = torch.Generator().manual_seed(seed)
    start = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
    rows = len(taus) * dreams
    state = DreamState.start(world, start.repeat(rows, 1))
    temperature = torch.tensor(taus).repeat_interleave(dreams)  # row r dreams at τ number r // dreams
    latents, deaths = [state.z], []
    lengths = np.full(rows, steps)
    for t in range(steps):
        state, death = step(world, state, actions[t : t + 1].expand(rows, *actions.shape[1:]), temperature, generator)
        latents.append(state.z)
        deaths.append(death)
        lengths[~state.alive.numpy() & (lengths == steps)] = t + 1
    return {
        "latents": torch.stack(latents, 1).unflatten(0, (len(taus), dreams)).numpy().astype(np.float32),
        "death": torch.stack(deaths, 1).unflatten(0, (len(taus), dreams)).numpy().astype(np.float32),
        "lengths": lengths.reshape(len(taus), dreams).astype(np.int64),
    }


def end_rates(lengths: np.ndarray, steps: int) -> np.ndarray:
    """M's rate of ending a dream (K,): dreams ended within the clip per dreamt step, from lengths (K, D)."""
    return (lengths < steps).sum(1) / lengths.sum(1)


def ended_early(lengths: np.ndarray, steps: int) -> np.ndarray:
    """The share of each τ's dreams (K,) that M ends before the real episode's end (step `steps`)."""
    return (lengths < steps).mean(1)


def share_at_rate(rate: float, steps: int) -> float:
    """The share of dreams that would end before step `steps` if each step ended one with probability `rate`."""
    return 1 - (1 - min(rate, 1.0)) ** (steps - 1)


@torch.no_grad()
def viewer_snapshot(world: World, episode: Episode, seed: int) -> dict[str, np.ndarray]:
    """real: uint8 (T+1, 64, 64, C) and actions (T[, A]) between them; taus (K,); the first SHOWN_DREAMS of each
    τ's dreams: latents float32 (K, D, T+1, z), death float32 (K, D, T), lengths (K, D); over COUNTED_DREAMS dreams
    per τ: ended (K,) the share M ends before the real episode's end, end_rate (K,) its ends per dreamt step;
    real_rate (): the real episode's (one end in its T steps, or none)."""
    steps = min(len(episode), VIEW_STEPS)
    counted = dreams_of(world, episode, seed, COUNTED_DREAMS)
    really_ended = episode.terminated and len(episode) <= VIEW_STEPS
    return {
        "real": episode.frames[: steps + 1],
        "actions": episode.actions[:steps],
        "taus": np.array(VIEW_TAUS, np.float32),
        **{name: array[:, :SHOWN_DREAMS] for name, array in counted.items()},
        "ended": ended_early(counted["lengths"], steps).astype(np.float32),
        "end_rate": end_rates(counted["lengths"], steps).astype(np.float32),
        "real_rate": np.array(really_ended / steps, np.float32),
    }


START_EVERY = 10  # a visitor's dreams start at every 10th step of the viewer's real episode


def start_step(viewer: dict[str, np.ndarray], start: int) -> int:
    """The step of the viewer's real episode where a visitor's dream number `start` begins (0, 10, 20, …, cycling)."""
    return START_EVERY * start % len(viewer["actions"])


@torch.no_grad()
def real_start(world: World, viewer: dict[str, np.ndarray], start: int) -> DreamState:
    """A visitor's dream number `start` begins at start_step of the viewer's real episode: z = V's mean of that real
    frame, M's memory of the real steps before it (probe.real_memory)."""
    at = start_step(viewer, start)
    if at == 0:
        return DreamState.start(world, world.vae.encode(to_tensor(viewer["real"][:1]))[0])
    silent = np.zeros(len(viewer["actions"]), np.float32)
    episode = Episode(viewer["real"], viewer["actions"], silent, False, silent)
    z, lstm, hidden = real_memory(world, episode, at)
    return DreamState(z, lstm, hidden, torch.ones(1, dtype=torch.bool), torch.zeros(1))


@torch.no_grad()
def decode(world: World, latents: np.ndarray) -> np.ndarray:
    """V's pictures of latents (..., z): uint8 (..., 64, 64, C)."""
    z = torch.as_tensor(latents).float()
    pictures = to_uint8(world.vae.decode(z.reshape(-1, z.shape[-1])))
    return pictures.reshape(*z.shape[:-1], *pictures.shape[1:]).numpy()
