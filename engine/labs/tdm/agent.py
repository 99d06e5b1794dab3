"""One learner, TDM or DDPG: actor, critic, their target copies, and the DDPG-style update they share.

    critic:  min ½‖y - ψ(s, a, g, τ)‖²        (y from tdm.target or ddpg.target, on a batch from buffer.py)
    actor:   max Q(s, π(s, g, τ), g, τ) = Σ_i ψ_i(s, π(s, g, τ), g, τ)

The vector head has no argmax of its own: the actor ascends the *sum* of the per-dimension heads, which is the
Q-value, while each ψ_i gets its own regression target (more supervision per transition).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from engine.labs.tdm import ddpg, tdm
from engine.labs.tdm.buffer import Batch
from engine.labs.tdm.config import SPACE, Config
from engine.labs.tdm.networks import Actor, Critic


class Learner:
    def __init__(self, method: str, config: Config):
        """method: "tdm" (with the config's head) or "ddpg"."""
        self.method, self.config = method, config
        head = config.head if method == "tdm" else "ddpg"
        tau_max = config.tau_max if method == "tdm" else 0
        hidden, layers = config.hidden, config.layers
        self.actor, self.critic = Actor(hidden, tau_max, layers), Critic(hidden, head, tau_max, layers)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        # fused: one kernel per step instead of one per tensor; these nets are small enough for that to matter
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, fused=True)

    @torch.no_grad()
    def act(self, state: np.ndarray, goal: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch of (state, goal, τ)."""
        as_tensor = [torch.as_tensor(x, dtype=torch.float32) for x in (state, goal, tau)]
        return self.actor(*as_tensor).numpy().astype(float)

    def update(self, batch: Batch, actor_lr: float, critic_lr: float) -> dict[str, float]:
        state, action, next_state, goal, tau, later_state, later_tau = (
            torch.as_tensor(x, dtype=torch.float32)
            for x in (
                batch.state,
                batch.action,
                batch.next_state,
                batch.goal,
                batch.tau,
                batch.later_state,
                batch.later_tau,
            )
        )
        with torch.no_grad():
            if self.method == "tdm":
                y = tdm.target(
                    next_state,
                    goal,
                    tau,
                    later_state,
                    later_tau,
                    self.actor_target,
                    self.critic_target,
                    self.config.max_step,
                )
            else:
                y = ddpg.target(next_state, goal, self.actor_target, self.critic_target, self.config.gamma)
        critic_loss = 0.5 * (y - self.critic.psi(state, action, goal, tau)).pow(2).sum(dim=1).mean()
        self._step(self.critic, self.critic_optimizer, critic_loss, critic_lr)

        actor_loss = -self.critic.q(state, self.actor(state, goal, tau), goal, tau).mean()
        self._step(self.actor, self.actor_optimizer, actor_loss, actor_lr)
        self._follow()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item()}

    @staticmethod
    def _step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, lr: float) -> None:
        """One Adam step on `net` alone (autograd.grad skips the gradients of every other network's weights)."""
        for group in optimizer.param_groups:
            group["lr"] = lr
        parameters = list(net.parameters())
        for parameter, grad in zip(parameters, torch.autograd.grad(loss, parameters), strict=True):
            parameter.grad = grad
        optimizer.step()

    @torch.no_grad()
    def _follow(self) -> None:
        """Polyak-averaged target networks: θ' ← (1 - ρ) θ' + ρ θ."""
        for net, target in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
            torch._foreach_lerp_(list(target.parameters()), list(net.parameters()), self.config.target_rate)

    def averaged(self) -> Learner:
        """The same learner read through its Polyak-averaged (target) networks: what evaluation, heatmaps and
        checkpoints use. An average over the last ~1/ρ updates is less noisy than the latest weights, and the vector
        head turns any noise in f into extra distance (E|f - g| > |E f - g|), i.e. into pessimism."""
        readout = copy.copy(self)
        readout.actor, readout.critic = self.actor_target, self.critic_target
        return readout

    def state_dict(self) -> dict[str, Any]:
        """The averaged networks' weights."""
        return {"actor": self.actor_target.state_dict(), "critic": self.critic_target.state_dict()}

    TRAINING_PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")

    def training_state(self) -> dict[str, Any]:
        """Every network and optimizer: what a resumed run needs to continue exactly."""
        return {name: getattr(self, name).state_dict() for name in self.TRAINING_PARTS}

    def load_training_state(self, state: dict[str, Any]) -> None:
        for name in self.TRAINING_PARTS:
            getattr(self, name).load_state_dict(state[name])


def from_checkpoint(state: dict[str, Any], method: str = "tdm") -> Learner:
    """A learner whose networks hold a checkpoint's (averaged) weights for `method` ("tdm" or "ddpg").

    For evaluation.
    """
    learner = Learner(method, SPACE.typed(state["config"]))
    learner.actor.load_state_dict(state[method]["actor"])
    learner.critic.load_state_dict(state[method]["critic"])
    return learner
