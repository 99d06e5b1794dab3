"""The actor and critic: small MLPs on [state, goal, g - s, τ/τ_max] (and the action, for the critic). Both take τ as
a count of steps and scale it themselves, so callers never do. The goal relative to the state, g - s, is an input
of its own: distances and the way to the goal are functions of it first, and the nets need not learn a subtraction.

The critic's head is one of
- "vector": the paper's vector-valued TDM, ψ_i = -|f_i(s, a, g, τ) - g_i| per goal dimension, Q = Σ_i ψ_i;
- "scalar": one number Q(s, a, g, τ) (kept ≤ 0 by a -softplus, since it predicts minus a distance);
- "ddpg": one number Q(s, a, g), no τ input (the model-free baseline).
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

STATE, GOAL, ACTION = 2, 2, 2
INPUTS = STATE + GOAL + GOAL  # s, g and g - s


def mlp(inputs: int, hidden: int, outputs: int, layers: int) -> nn.Sequential:
    sizes = [inputs] + [hidden] * layers
    body = [module for a, b in pairwise(sizes) for module in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*body, nn.Linear(sizes[-1], outputs))


def features(state: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor, tau_max: int) -> torch.Tensor:
    """[s, g, g - s, τ/τ_max]; without τ when tau_max = 0 (the DDPG baseline)."""
    inputs = [state, goal, goal - state] + ([tau[:, None] / tau_max] if tau_max else [])
    return torch.cat(inputs, dim=1)


class Actor(nn.Module):
    """π(s, g, τ) ∈ [-1, 1]²; with tau_max = 0 (the DDPG baseline) τ is ignored."""

    def __init__(self, hidden: int, tau_max: int, layers: int):
        super().__init__()
        self.tau_max = tau_max
        self.net = mlp(INPUTS + (tau_max > 0), hidden, ACTION, layers)

    def forward(self, state: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(features(state, goal, tau, self.tau_max)))


class Critic(nn.Module):
    """Per-dimension values ψ (batch, 2) for the vector head, else (batch, 1); `q` sums them."""

    def __init__(self, hidden: int, head: str, tau_max: int, layers: int):
        super().__init__()
        self.head, self.tau_max = head, tau_max if head != "ddpg" else 0
        self.net = mlp(INPUTS + ACTION + (self.tau_max > 0), hidden, GOAL if head == "vector" else 1, layers)

    def psi(self, state: torch.Tensor, action: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([features(state, goal, tau, self.tau_max), action], dim=1))
        if self.head == "vector":  # f predicts where each coordinate ends up; ψ is minus its distance to the goal
            return -(state + out - goal).abs()  # f = s + out: the network learns the displacement
        if self.head == "scalar":
            return -nn.functional.softplus(out)
        return out

    def q(self, state: torch.Tensor, action: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return self.psi(state, action, goal, tau).sum(dim=1)


def value(state: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor, actor: Actor, critic: Critic) -> torch.Tensor:
    """V(s, g, τ) = ψ(s, π(s, g, τ), g, τ) per head output: the critic's value of the actor's own action."""
    return critic.psi(state, actor(state, goal, tau), goal, tau)
