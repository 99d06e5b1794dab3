"""The TDM's Bellman target (Pong et al. 2018, eq. 5, with the vector-valued head of §3.3).

    y(s, a, s', g, τ) = -|s' - g|                                 if τ = 0
                        ψ'(s', π'(s', g, τ - 1), g, τ - 1)         otherwise

per goal dimension (no discount, no reward: the value *is* minus the distance left after τ + 1 actions). The
indicator is 1[τ = 0]: a horizon is never negative, because the recursion stops at τ = 0 where the one remaining
action's outcome is scored directly. Every replayed transition is reused for every horizon: τ is relabelled
uniformly in {0, …, τ_max} at sampling time.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.labs.tdm.networks import Actor, Critic


def relabel_tau(size: int, tau_max: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, tau_max + 1, size)


def target(next_state: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor, actor: Actor, critic: Critic
           ) -> torch.Tensor:
    """y per head output: (batch, 2) for the vector head, (batch, 1) for the scalar one (the L1 sum)."""
    now = -(next_state - goal).abs()
    if critic.head == "scalar":
        now = now.sum(dim=1, keepdim=True)
    one_less = (tau - 1).clamp(min=0)  # only used where τ > 0
    later = critic.psi(next_state, actor(next_state, goal, one_less), goal, one_less)
    return torch.where((tau == 0)[:, None], now, later)
