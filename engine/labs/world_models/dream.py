"""The dream: a batched environment made of M alone, started from V's codes of real first frames.

One dream step, for N dreams at once:
    a_t = C([z_t, h_t]),  (P(z_{t+1}), r_t, P(death_t)), h_{t+1} = M(z_t, a_t, h_t),  z_{t+1} ~ P(z_{t+1}) at tau;
a dream ends when M predicts a death (`death_rule`: drawn with M's probability, or M's weighted output above
`death_threshold`) or after `length` steps.
V decodes z only for the viewer. dream_fitness is what CMA-ES maximises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.labs.world_models.controller import LinearController
from engine.labs.world_models.mdn_rnn import MDNRNN, LSTMState, sample_mdn
from engine.labs.world_models.vae import ConvVAE, to_uint8


@dataclass
class World:
    """V, M and C's shape, with V's codes (mu, log sigma^2) of real first frames to start dreams from."""

    vae: ConvVAE
    rnn: MDNRNN
    controller: LinearController
    start_mu: torch.Tensor  # (S, z_size)
    start_logvar: torch.Tensor  # (S, z_size)
    death_weight: float = 1.0  # M's death loss counted deaths this much: its learnt odds are this many times too high
    death_rule: str = "sample"
    death_threshold: float = 0.5  # the cut-off rule's threshold on M's weighted output (the paper: one half)
    survival_reward: bool = True  # reward 1 per step alive (Doom, CartPole, take-cover) instead of M's prediction

    def death_probability(self, done_logit: torch.Tensor) -> torch.Tensor:
        """P(death) with the loss's weight divided back out of the odds."""
        return torch.sigmoid(done_logit - math.log(self.death_weight))

    def dies(self, done_logit: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """The paper's rule (threshold): M's weighted output above `death_threshold` (the paper's: one half); or a
        death drawn with M's probability (`uniform`: the draw's random numbers)."""
        if self.death_rule == "threshold":
            return done_logit > math.log(self.death_threshold / (1 - self.death_threshold))
        return uniform < self.death_probability(done_logit)

    def start_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n codes of randomly chosen real first frames, each sampled from V's posterior as in training M. A world has
        them once its M has trained (its checkpoint after V alone has none)."""
        if not len(self.start_mu):
            raise ValueError("this world has no real first frames to dream from yet: its M has not trained")
        index = torch.randint(len(self.start_mu), (n,), generator=generator)
        noise = torch.randn((n, self.start_mu.shape[1]), generator=generator)
        return self.start_mu[index] + noise * (0.5 * self.start_logvar[index]).exp()

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild this world (with world_from_state)."""
        return {
            "vae": on_cpu(self.vae.state_dict()),
            "rnn": on_cpu(self.rnn.state_dict()),
            "start_mu": self.start_mu,
            "start_logvar": self.start_logvar,
            "shape": {
                "channels": self.vae.channels,
                "z_size": self.vae.z_size,
                "vae_width": self.vae.width,
                "rnn_hidden": self.rnn.hidden,
                "mdn_components": self.rnn.components,
                "axis": list(self.controller.axis or []),
            },
            "death": {
                "death_weight": self.death_weight,
                "death_rule": self.death_rule,
                "death_threshold": self.death_threshold,
                "survival_reward": self.survival_reward,
            },
        }


def on_cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict as a checkpoint keeps it, whichever device trained it."""
    return {name: tensor.cpu() for name, tensor in state.items()}


def build_world(
    channels: int,
    z_size: int,
    vae_width: float,
    rnn_hidden: int,
    mdn_components: int,
    action_space,
    death_weight: float = 1.0,
    death_rule: str = "sample",
    death_threshold: float = 0.5,
    survival_reward: bool = True,
    axis: tuple[int, int, int] | None = None,
) -> World:
    """Fresh V and M (and C's shape) for frames of `channels` channels and an action space."""
    controller = LinearController(z_size + rnn_hidden, action_space, axis)
    return World(
        vae=ConvVAE(channels, z_size, vae_width),
        rnn=MDNRNN(z_size, controller.action_size, rnn_hidden, mdn_components),
        controller=controller,
        start_mu=torch.zeros(0, z_size),
        start_logvar=torch.zeros(0, z_size),
        death_weight=death_weight,
        death_rule=death_rule,
        death_threshold=death_threshold,
        survival_reward=survival_reward,
    )


def world_from_state(state: dict[str, Any], action_space) -> World:
    shape = state["shape"] | {"axis": tuple(state["shape"].get("axis", ())) or None}
    world = build_world(**shape, action_space=action_space, **state["death"])
    world.vae.load_state_dict(state["vae"])
    world.rnn.load_state_dict(state["rnn"])
    world.start_mu, world.start_logvar = state["start_mu"].float(), state["start_logvar"].float()
    return world


@dataclass
class Noise:
    """The random numbers of one dream step, a row per dream: the mixture component's and the Gaussian's draws of
    each latent dimension, and the death's. CMA-ES's candidates dream on the same noise (common random numbers), so
    that their fitnesses differ by what they do rather than by their luck."""

    uniform: torch.Tensor  # (N, z_size, 1)
    normal: torch.Tensor  # (N, z_size)
    death: torch.Tensor  # (N,)

    @classmethod
    def draw(cls, n: int, z_size: int, generator: torch.Generator, device: torch.device | None = None) -> Noise:
        """Drawn on the CPU's generator (the same numbers on any device), then moved where the dreams run."""
        return cls(
            torch.rand((n, z_size, 1), generator=generator).to(device),
            torch.randn((n, z_size), generator=generator).to(device),
            torch.rand(n, generator=generator).to(device),
        )

    def rows(self, index: torch.Tensor) -> Noise:
        return Noise(self.uniform[index], self.normal[index], self.death[index])


@dataclass
class DreamState:
    z: torch.Tensor  # (N, z_size) the current latent
    lstm: LSTMState
    hidden: torch.Tensor  # (N, H) h_t, what the controller sees of M's memory
    alive: torch.Tensor  # (N,) bool
    returns: torch.Tensor  # (N,) reward so far

    @classmethod
    def start(cls, world: World, z: torch.Tensor) -> DreamState:
        n, device = len(z), z.device
        return cls(
            z,
            world.rnn.initial_state(n, device),
            torch.zeros(n, world.rnn.hidden, device=device),
            torch.ones(n, dtype=torch.bool, device=device),
            torch.zeros(n, device=device),
        )

    def features(self) -> torch.Tensor:
        return torch.cat([self.z, self.hidden], dim=-1)

    def select(self, rows: torch.Tensor) -> DreamState:
        """Only the dreams at these rows (the living ones: a finished dream costs nothing more)."""
        return DreamState(
            self.z[rows],
            (self.lstm[0][:, rows], self.lstm[1][:, rows]),
            self.hidden[rows],
            self.alive[rows],
            self.returns[rows],
        )


@torch.no_grad()
def step(
    world: World,
    state: DreamState,
    actions: torch.Tensor,
    temperature: float | torch.Tensor,
    generator: torch.Generator,
    noise: Noise | None = None,
) -> tuple[DreamState, torch.Tensor]:
    """Advance every dream one step under the given actions (noise: the step's random numbers; None: fresh from
    `generator`); returns the new state and P(death) of the step."""
    noise = noise or Noise.draw(len(state.z), state.z.shape[-1], generator, state.z.device)
    prediction, hidden, lstm = world.rnn.step(state.z, world.controller.action_vectors(actions), state.lstm)
    z_next = sample_mdn(prediction, temperature, noise=(noise.uniform, noise.normal))
    done_logit = prediction.done_logit
    reward = torch.ones_like(done_logit) if world.survival_reward else prediction.reward
    returns = state.returns + reward * state.alive
    alive = state.alive & ~world.dies(done_logit, noise.death)
    return DreamState(z_next, lstm, hidden, alive, returns), world.death_probability(done_logit)


@torch.no_grad()
def dream_returns(
    world: World, params: torch.Tensor, episodes: int, length: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """Dream returns (P, episodes) of P controllers (params (P, n_params)), all from the same `episodes` starts and
    on the same noise: dream e of every controller draws the same random numbers at each step. Only living dreams
    are stepped: most end long before the longest."""
    population, device = len(params), next(world.rnn.parameters()).device  # dreams run where M lies
    params = params.to(device)
    state = DreamState.start(world, world.start_latents(episodes, generator).repeat(population, 1).to(device))
    controller_of = torch.arange(population, device=device).repeat_interleave(episodes)  # each living dream's C
    dream_of = torch.arange(episodes, device=device).repeat(population)  # and which noise stream it draws
    slot = torch.arange(population * episodes, device=device)  # each living dream's place in the result
    returns = torch.zeros(population * episodes, device=device)
    for _ in range(length):
        actions = world.controller.act(params[controller_of], state.features().unsqueeze(1))[:, 0]
        noise = Noise.draw(episodes, state.z.shape[-1], generator, device).rows(dream_of)
        state, _ = step(world, state, actions, temperature, generator, noise)
        returns[slot] = state.returns
        if not state.alive.all():
            living = state.alive.nonzero().squeeze(1)
            if len(living) == 0:
                break
            state, controller_of, dream_of, slot = (
                state.select(living),
                controller_of[living],
                dream_of[living],
                slot[living],
            )
    return returns.view(population, episodes).cpu()


def dream_fitness(
    world: World, params: torch.Tensor, episodes: int, length: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """F(C) = (1/E) sum_e R_e: each controller's mean return over E dreams at temperature tau (P,)."""
    return dream_returns(world, params, episodes, length, temperature, generator).mean(1)


class DreamSession:
    """A visitor steps through a dream with actions of their own choosing (one dream, N = 1), from `state` (say a real
    frame with M's memory of the steps before it) or else from a randomly chosen real first frame."""

    def __init__(self, world: World, temperature: float, seed: int = 0, state: DreamState | None = None):
        self.world = world
        self.temperature = temperature  # may be changed between steps
        self.generator = torch.Generator().manual_seed(seed)
        self.state = state if state is not None else DreamState.start(world, world.start_latents(1, self.generator))

    @torch.no_grad()
    def frame(self) -> np.ndarray:
        """The current dream frame, uint8 (64, 64, C)."""
        return to_uint8(self.world.vae.decode(self.state.z))[0].numpy()

    def step(self, action: int | np.ndarray) -> tuple[np.ndarray, float, float, bool]:
        """Apply the visitor's action: (next frame, reward, P(death), dream over)."""
        before = self.state.returns.clone()
        self.state, done_probability = step(
            self.world, self.state, torch.as_tensor(action).unsqueeze(0), self.temperature, self.generator
        )
        reward = float(self.state.returns[0] - before[0])
        return self.frame(), reward, float(done_probability[0]), not bool(self.state.alive[0])
