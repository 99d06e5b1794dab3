"""The model-free baseline: DDPG's target with the dense reward r = -‖s' - g‖₂ (the paper's comparison).

    y(s, a, s', g) = r(s', g) + γ Q'(s', π'(s', g), g)

Same networks, buffer, goal relabelling and update schedule as the TDM; only the target differs.
"""

from __future__ import annotations

import torch

from engine.labs.tdm.networks import Actor, Critic, value


def target(next_state: torch.Tensor, goal: torch.Tensor, actor: Actor, critic: Critic, gamma: float) -> torch.Tensor:
    reward = -torch.linalg.vector_norm(next_state - goal, dim=1, keepdim=True)
    return reward + gamma * value(next_state, goal, torch.zeros(len(goal)), actor, critic)
