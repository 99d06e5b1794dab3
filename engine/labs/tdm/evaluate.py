"""Scoring a learner: goal-reaching rollouts, and its reachability heatmaps against the exact answer.

The model's distance at horizon τ is d̂(s, g, τ) = -V(s, g, τ) = -Q(s, π(s, g, τ), g, τ), an L1 distance after
τ + 1 actions, and it is compared with reachability.exact_distances at the same τ. A goal counts as reached when
it lies within `radius` (L1 for the heatmaps, L2 for the rollouts, so a reached heatmap goal is a reached goal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from engine.labs.tdm import reachability
from engine.labs.tdm.agent import Learner
from engine.labs.tdm.config import Config
from engine.labs.tdm.envs import LAYOUTS, goal_distance, move, sample_free
from engine.labs.tdm.networks import value

EVAL_STREAM = 1


def eval_pairs(layout: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed held-out start-goal pairs of a run (the same at every evaluation, never trained on)."""
    rng = np.random.default_rng([EVAL_STREAM, seed])
    walls = LAYOUTS[layout].walls
    return sample_free(rng, count, walls), sample_free(rng, count, walls)


def countdown(t: int, steps: int, tau_max: int) -> int:
    """τ at step t of an episode of `steps`: counting down to 0 at the last step, and back to τ_max after every 0.

    Q at τ only asks to be close to the goal after τ + 1 actions; in between, every route that arrives in time is
    worth the same, so a τ that does not end with the episode lets the agent wander off the goal at the end.
    """
    return (steps - 1 - t) % (tau_max + 1)


def rollouts(learner: Learner, config: Config, starts: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Deterministic episodes of `episode_steps` from every start toward its goal: positions (steps + 1, n, 2)."""
    walls = LAYOUTS[config.layout].walls
    path = [np.asarray(starts, dtype=float)]
    for t in range(config.episode_steps):
        tau = np.full(len(starts), countdown(t, config.episode_steps, config.tau_max), dtype=float)
        path.append(move(path[-1], learner.act(path[-1], goals, tau), config.max_step, walls))
    return np.stack(path)


def goal_reaching(learner: Learner, config: Config) -> dict[str, float]:
    starts, goals = eval_pairs(config.layout, config.eval_pairs, config.seed)
    final = goal_distance(rollouts(learner, config, starts, goals)[-1], goals)
    return {"success": float((final <= config.radius).mean()), "final_distance": float(final.mean())}


@torch.no_grad()
def predicted_distances(learner: Learner, start: np.ndarray, tau_max: int) -> np.ndarray:
    """d̂(s, g, τ) = -Q(s, π(s, g, τ), g, τ) for every heatmap goal and τ = 0 … tau_max: (tau_max + 1, 41, 41)."""
    goals = torch.as_tensor(reachability.goal_points().reshape(-1, 2), dtype=torch.float32)
    n = len(goals)
    goal = goals.repeat(tau_max + 1, 1)
    tau = torch.arange(tau_max + 1, dtype=torch.float32).repeat_interleave(n)
    state = torch.as_tensor(start, dtype=torch.float32).expand(len(goal), 2)
    q = value(state, goal, tau, learner.actor, learner.critic).sum(dim=1)
    return (-q).reshape(tau_max + 1, *reachability.goal_points().shape[:2]).numpy()


def _rank_correlation(a: np.ndarray, b: np.ndarray, fewest: int) -> float | None:
    if len(a) < fewest or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def heatmap_scores(
    predicted: np.ndarray, exact: np.ndarray, wall_free: np.ndarray, free: np.ndarray, radius: float, fewest: int
) -> dict[str, list]:
    """Per τ, over the goals in free space:
    - iou: reached-set overlap, {d* ≤ radius} vs {d̂ ≤ radius};
    - spearman / spearman_wall_ignoring: rank correlation with d* of d̂ and of the distance that ignores walls,
      on the goals out of reach (d* > radius), where the shape of the reachable set shows (None with fewer than
      `fewest` of them);
    - mae: mean |d̂ - d*|."""
    scores: dict[str, list] = {"iou": [], "spearman": [], "spearman_wall_ignoring": [], "mae": []}
    # exact distances are multiples of the grid CELL: a threshold on one would split the goals lying exactly at
    # `radius` by the model's noise alone, so it sits half a cell above (the truth's own resolution)
    threshold = radius + reachability.CELL / 2
    for d_hat, d_star, d_free in zip(predicted, exact, wall_free, strict=True):
        d_hat, d_star, d_free = d_hat[free], d_star[free], d_free[free]
        truth, model = d_star <= threshold, d_hat <= threshold
        scores["iou"].append(float((truth & model).sum() / max((truth | model).sum(), 1)))
        out = ~truth
        scores["spearman"].append(_rank_correlation(d_hat[out], d_star[out], fewest))
        scores["spearman_wall_ignoring"].append(_rank_correlation(d_free[out], d_star[out], fewest))
        scores["mae"].append(float(np.abs(d_hat - d_star).mean()))
    return scores


def score_starts(learner: Learner, config: Config) -> dict[str, Any]:
    """heatmap_scores for each of the layout's scoring starts, and their mean per τ (None where undefined)."""
    layout = config.layout
    free = ~reachability.goal_in_wall(layout)
    per_start = {}
    for start in LAYOUTS[layout].starts:
        exact = reachability.exact_distances(layout, np.array(start), config.tau_max, config.max_step)
        wall_free = reachability.exact_distances("open", np.array(start), config.tau_max, config.max_step)
        predicted = predicted_distances(learner, np.array(start), config.tau_max)
        per_start[str(start)] = heatmap_scores(
            predicted, exact, wall_free, free, config.radius, config.min_out_of_reach
        )
    mean = {}
    for name in next(iter(per_start.values())):
        columns = zip(*(scores[name] for scores in per_start.values()), strict=True)
        mean[name] = [_rounded_mean(column) for column in columns]
    return {"mean": mean, "per_start": per_start}


def _rounded_mean(values: tuple) -> float | None:
    defined = [v for v in values if v is not None]
    return round(float(np.mean(defined)), 4) if defined else None
