"""What the dream viewer shows, computed by the worker: a real episode beside M's dream of it at several τ.

The dreams start from V's code of the real first frame and follow the real episode's actions, so each frame can be
compared with the real one; they are kept as latents (small) and decoded by V in the app, once per (run, step, τ).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.labs.world_models.dream import DreamState, World, step
from engine.labs.world_models.mdn_rnn import LOGS_PER_STAGE
from engine.labs.world_models.rollouts import Episode
from engine.labs.world_models.vae import to_tensor, to_uint8

VIEW_TAUS = (0.1, 0.3, 0.5, 0.75, 1.0, 1.15, 1.3, 1.6, 2.0)  # the slider's stops, the τ table's among them
VIEW_STEPS = 120
VIEWS_PER_ROUND = 4  # viewer snapshots while M trains


def viewer_due(update: int, updates: int) -> bool:
    """Whether M's update `update` (1-based, one M logs at) of `updates` refreshes the viewer (the app watches the
    same rule): every few of M's logs, and its last."""
    every = max(1, updates // LOGS_PER_STAGE) * max(1, LOGS_PER_STAGE // VIEWS_PER_ROUND)
    return update == updates or update % every == 0


def viewer_episode(episodes: list[Episode]) -> Episode:
    """The real episode the viewer replays: the first that ends in a death within the clip, else the first."""
    return next((e for e in episodes if e.terminated and len(e) <= VIEW_STEPS), episodes[0])


@torch.no_grad()
def viewer_snapshot(world: World, episode: Episode, seed: int) -> dict[str, np.ndarray]:
    """real: uint8 (T+1, 64, 64, C); latents: float32 (K, T+1, z), one dream per τ in taus (K,);
    death: float32 (K, T) M's P(death) per step; lengths: (K,) steps each dream lived (at most T)."""
    steps = min(len(episode), VIEW_STEPS)
    real = episode.frames[: steps + 1]
    actions = torch.as_tensor(episode.actions[:steps])
    mu, logvar = world.vae.encode(to_tensor(real[:1]))
    generator = torch.Generator().manual_seed(seed)
    start = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
    state = DreamState.start(world, start.repeat(len(VIEW_TAUS), 1))
    latents, deaths = [state.z], []
    lengths = np.full(len(VIEW_TAUS), steps)
    taus = torch.tensor(VIEW_TAUS)
    for t in range(steps):  # one dream per τ, all under the real episode's action
        state, death = step(
            world, state, actions[t : t + 1].expand(len(VIEW_TAUS), *actions.shape[1:]), taus, generator
        )
        latents.append(state.z)
        deaths.append(death)
        died = ~state.alive.numpy() & (lengths == steps)
        lengths[died] = t + 1
    return {
        "real": real,
        "taus": np.array(VIEW_TAUS, np.float32),
        "latents": torch.stack(latents, 1).numpy().astype(np.float32),
        "death": torch.stack(deaths, 1).numpy().astype(np.float32),
        "lengths": lengths.astype(np.int64),
    }


@torch.no_grad()
def decode(world: World, latents: np.ndarray) -> np.ndarray:
    """V's pictures of latents (T, z): uint8 (T, 64, 64, C)."""
    return to_uint8(world.vae.decode(torch.as_tensor(latents).float())).numpy()
