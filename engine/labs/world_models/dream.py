"""The dream: a batched environment made of M alone, started from the latents of real first frames.

One dream step, for N dreams at once:
    a_t = C([z_t, h_t]),  (P(z_{t+1}), r_t, done logit), h_{t+1} = M(z_t, a_t, h_t),  z_{t+1} ~ P(z_{t+1}) at tau;
each dream ends with the probability M gives its step (done ~ Bernoulli) or after `length` steps.
V decodes z only for the viewer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.labs.world_models.controller import LinearController
from engine.labs.world_models.envs import make_env
from engine.labs.world_models.mdn_rnn import MDNRNN, LSTMState, sample_mdn
from engine.labs.world_models.vae import ConvVAE, to_uint8


@dataclass
class World:
    """V, M and C together, with the latents (mu, log sigma^2) of real first frames to start dreams from."""

    vae: ConvVAE
    rnn: MDNRNN
    controller: LinearController
    start_mu: torch.Tensor  # (S, z_size)
    start_logvar: torch.Tensor  # (S, z_size)
    done_weight: float = 1.0  # M's done loss weighted terminal steps this much: its logits are shifted by log of it

    def done_probability(self, done_logit: torch.Tensor) -> torch.Tensor:
        """P(done) undoing the loss's weight: weighting positives by w multiplies the learnt odds by w."""
        return torch.sigmoid(done_logit - math.log(self.done_weight))

    def start_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n latents of randomly chosen real first frames, each sampled from V's posterior as in training M."""
        index = torch.randint(len(self.start_mu), (n,), generator=generator)
        noise = torch.randn((n, self.start_mu.shape[1]), generator=generator)
        return self.start_mu[index] + noise * (0.5 * self.start_logvar[index]).exp()


def build_world(config: dict[str, Any], channels: int, action_space) -> World:
    """Fresh V, M and C for a config (no start latents yet)."""
    z_size = config["z_size"]
    controller = LinearController(z_size + config["rnn_hidden"], action_space)
    return World(
        vae=ConvVAE(channels, z_size, config["vae_width"]),
        rnn=MDNRNN(z_size, controller.outputs, config["rnn_hidden"], config["mdn_components"]),
        controller=controller,
        start_mu=torch.zeros(0, z_size),
        start_logvar=torch.zeros(0, z_size),
        done_weight=config["done_weight"],
    )


def load_world(checkpoint: dict[str, Any]) -> tuple[World, torch.Tensor]:
    """The world and the controller's parameters (n_params,) from a checkpoint written by train()."""
    config = checkpoint["config"]
    env = make_env(config["env"], config["seed"])
    world = build_world(config, env.observation_space.shape[-1], env.action_space)
    env.close()
    world.vae.load_state_dict(checkpoint["vae"])
    world.rnn.load_state_dict(checkpoint["rnn"])
    world.start_mu, world.start_logvar = checkpoint["start_mu"], checkpoint["start_logvar"]
    return world, checkpoint["controller"]


@dataclass
class DreamState:
    z: torch.Tensor  # (N, z_size) the current latent
    lstm: LSTMState
    hidden: torch.Tensor  # (N, H) h_t, what the controller sees of M's memory
    alive: torch.Tensor  # (N,) bool
    returns: torch.Tensor  # (N,) sum of predicted rewards so far

    @classmethod
    def start(cls, world: World, z: torch.Tensor) -> DreamState:
        n = len(z)
        return cls(z, world.rnn.initial_state(n), torch.zeros(n, world.rnn.hidden), torch.ones(n, dtype=torch.bool),
                   torch.zeros(n))

    def features(self) -> torch.Tensor:
        return torch.cat([self.z, self.hidden], dim=-1)


@torch.no_grad()
def step(
    world: World, state: DreamState, actions: torch.Tensor, temperature: float, generator: torch.Generator
) -> tuple[DreamState, torch.Tensor]:
    """Advance every dream one step under the given actions; returns the new state and P(done) of the step."""
    action_vectors = world.controller.action_vectors(actions).unsqueeze(1)
    prediction, hidden, lstm = world.rnn(state.z.unsqueeze(1), action_vectors, state.lstm)
    z_next = sample_mdn(prediction, temperature, generator).squeeze(1)
    done_probability = world.done_probability(prediction.done_logit.squeeze(1))
    returns = state.returns + prediction.reward.squeeze(1) * state.alive
    # sampled, not thresholded: a dream lasts as long as M expects. Measured on CartPole, a 0.5 threshold let C
    # exploit M's doubt (dream 459, real 52); sampling kept the dream honest (dream 56, real 59)
    done = torch.rand(done_probability.shape, generator=generator) < done_probability
    alive = state.alive & ~done
    return DreamState(z_next, lstm, hidden.squeeze(1), alive, returns), done_probability


@torch.no_grad()
def dream_returns(
    world: World, params: torch.Tensor, episodes: int, length: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """Dream returns (P, episodes) of P controllers (params (P, n_params)), all from the same `episodes` starts."""
    population = len(params)
    starts = world.start_latents(episodes, generator)
    state = DreamState.start(world, starts.repeat(population, 1))
    for _ in range(length):
        actions = world.controller.act(params, state.features().view(population, episodes, -1))
        state, _ = step(world, state, actions.flatten(0, 1), temperature, generator)
        if not state.alive.any():
            break
    return state.returns.view(population, episodes)


@torch.no_grad()
def dream_rollout(
    world: World, params: torch.Tensor, start_z: torch.Tensor, length: int, temperature: float,
    generator: torch.Generator,
) -> dict[str, np.ndarray]:
    """One dream from start_z (z_size,) under controller params (n_params,), decoded by V for the viewer.

    Returns frames uint8 (T+1, 64, 64, C), done_probability float32 (T,), actions (T,) int64 or (T, A) float32.
    """
    state = DreamState.start(world, start_z.unsqueeze(0))
    latents, done_probabilities, actions = [state.z], [], []
    for _ in range(length):
        action = world.controller.act(params.unsqueeze(0), state.features().unsqueeze(0))[0]
        state, done_probability = step(world, state, action, temperature, generator)
        latents.append(state.z)
        done_probabilities.append(done_probability)
        actions.append(action)
        if not state.alive.any():
            break
    frames = to_uint8(world.vae.decode(torch.cat(latents)))
    return {"frames": frames.numpy(), "done_probability": torch.cat(done_probabilities).numpy(),
            "actions": torch.cat(actions).numpy()}


def redream(checkpoint: dict[str, Any], temperature: float, length: int | None = None, seed: int = 0) -> dict:
    """For the UI: a fresh dream at a new temperature from a checkpoint, under its controller (same format as
    dream_rollout). length defaults to the run's dream_length."""
    world, params = load_world(checkpoint)
    generator = torch.Generator().manual_seed(seed)
    start = world.start_latents(1, generator)[0]
    return dream_rollout(world, params, start, length or checkpoint["config"]["dream_length"], temperature, generator)


class DreamSession:
    """A visitor steps through a dream with actions of their own choosing (one dream, N = 1)."""

    def __init__(self, checkpoint: dict[str, Any], temperature: float, seed: int = 0):
        self.world, _ = load_world(checkpoint)
        self.temperature = temperature  # may be changed between steps
        self.generator = torch.Generator().manual_seed(seed)
        self.state = DreamState.start(self.world, self.world.start_latents(1, self.generator))

    @torch.no_grad()
    def frame(self) -> np.ndarray:
        """The current dream frame, uint8 (64, 64, C)."""
        return to_uint8(self.world.vae.decode(self.state.z))[0].numpy()

    def step(self, action: int | np.ndarray) -> tuple[np.ndarray, float, float, bool]:
        """Apply the visitor's action: (next frame, predicted reward, P(done), dream over)."""
        before = self.state.returns.clone()
        self.state, done_probability = step(self.world, self.state, torch.as_tensor(action).unsqueeze(0),
                                            self.temperature, self.generator)
        reward = float(self.state.returns[0] - before[0])
        return self.frame(), reward, float(done_probability[0]), not bool(self.state.alive[0])
