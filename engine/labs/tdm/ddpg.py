"""The model-free baseline: DDPG's target with the dense reward r = -‖s' - g‖₂ (the paper's comparison).

    y(s, a, s', g) = r(s', g) + γ Q'(s', π'(s', g), g)

Same networks, buffer, goal relabelling and update schedule as the TDM; only the target differs.
"""

from __future__ import annotations

import torch

from engine.labs.tdm.networks import Actor, Critic


def target(next_state: torch.Tensor, goal: torch.Tensor, actor: Actor, critic: Critic, gamma: float
           ) -> torch.Tensor:
    reward = -torch.linalg.vector_norm(next_state - goal, dim=1, keepdim=True)
    no_tau = torch.zeros(len(goal))
    return reward + gamma * critic.psi(next_state, actor(next_state, goal, no_tau), goal, no_tau)
