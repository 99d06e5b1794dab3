"""The TDM's Bellman target (Pong et al. 2018, eq. 5, with the vector-valued head of §3.3).

    y(s, a, s', g, τ) = -|s' - g|                                 if τ = 0
                        ψ'(s', π'(s', g, τ - 1), g, τ - 1)         otherwise

per goal dimension (no discount, no reward: the value *is* minus the distance left after τ + 1 actions). The
indicator is 1[τ = 0]: a horizon is never negative, because the recursion stops at τ = 0 where the one remaining
action's outcome is scored directly. Every replayed transition is reused for every horizon: τ is relabelled
uniformly in {0, …, τ_max} at sampling time (buffer.relabel).

Each horizon bootstraps on the one below, so an error at one horizon is passed up to every longer one (as
pessimism: a vector head turns any error in f into extra distance). Two facts about the task bound the
bootstrapped value and shorten that chain (`target`):
- the replayed trajectory is a way to spend the τ actions after s': walking it on to s_{t+j} (1 ≤ j ≤ τ) and going
  on from there at horizon τ - j is worth V'(s_{t+j}, g, τ - j), and staying put at s' keeps -|s' - g|; the target
  is the best of these ways and V'(s', g, τ - 1) (their vectors, compared by their sum, the Q), so a horizon
  can lean on a shorter, better-learnt one;
- no policy does better than the physics allows (`reachable_bound`).
"""

from __future__ import annotations

import torch

from engine.labs.tdm.networks import Actor, Critic, value


def best_of(*values: torch.Tensor) -> torch.Tensor:
    """Per row, the candidate (batch, outputs) with the largest sum (the largest Q): each candidate is the value of
    a way to spend the remaining actions, so the best one is a lower bound on the optimal value."""
    stacked = torch.stack(values)  # (candidates, batch, outputs)
    best = stacked.sum(dim=2).argmax(dim=0)
    return stacked[best, torch.arange(stacked.shape[1])]


def reachable_bound(next_state: torch.Tensor, goal: torch.Tensor, tau: torch.Tensor, max_step: float) -> torch.Tensor:
    """The largest value τ more actions from s' can have, per goal dimension: a coordinate moves at most `max_step`
    a step (walls only slide or stop it), so y_i ≤ -max(|s'_i - g_i| - τ·max_step, 0)."""
    return -((next_state - goal).abs() - tau[:, None] * max_step).clamp(min=0)


def target(
    next_state: torch.Tensor,
    goal: torch.Tensor,
    tau: torch.Tensor,
    later_state: torch.Tensor,
    later_tau: torch.Tensor,
    actor: Actor,
    critic: Critic,
    max_step: float,
) -> torch.Tensor:
    """y per head output: (batch, 2) for the vector head, (batch, 1) for the scalar one (the L1 sum).

    later_state, later_tau: s_{t+j} of the replayed trajectory for some 1 ≤ j ≤ τ, and τ - j (buffer.Batch)."""
    now = -(next_state - goal).abs()
    bound = reachable_bound(next_state, goal, tau, max_step)
    if critic.head == "scalar":
        now, bound = now.sum(dim=1, keepdim=True), bound.sum(dim=1, keepdim=True)
    one_less = (tau - 1).clamp(min=0)  # only used where τ > 0
    # V'(s', g, τ - 1) and V'(s_{t+j}, g, τ - j) in one pass of the networks
    bootstrap, along = value(
        torch.cat([next_state, later_state]), goal.repeat(2, 1), torch.cat([one_less, later_tau]), actor, critic
    ).chunk(2)
    later = best_of(bootstrap, along, now)
    return torch.where((tau == 0)[:, None], now, torch.minimum(later, bound))
