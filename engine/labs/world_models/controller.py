"""C: a linear map from [z_t, h_t] to the action, a_t = W [z_t, h_t] + b; its parameters are one flat vector for CMA-ES.

Discrete actions take the arg-max of the outputs; box actions squash each output with tanh into the box.
A whole CMA-ES population acts at once: parameters (P, n_params), features (P, E, F) for E episodes each.
C learns by CMA-ES (train_controller) on whatever fitness it is handed: in this lab, dream_fitness.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from gymnasium import spaces
from torch.nn import functional as F

if TYPE_CHECKING:
    from engine.context import Context
    from engine.labs.world_models.config import Config

with warnings.catch_warnings():  # pycma warns at import that matplotlib (for its plots) is missing
    warnings.simplefilter("ignore")
    import cma


class LinearController:
    """`axis`: the paper's Doom controller, one output a = tanh(W [z, h] + b) read as the actions
    (axis[0] if a < -1/3, axis[1] in between, axis[2] if a > 1/3): a third of the parameters of an arg-max."""

    def __init__(self, feature_size: int, action_space: spaces.Space, axis: tuple[int, int, int] | None = None):
        self.feature_size, self.space, self.axis = feature_size, action_space, axis
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.action_size = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.outputs = 1 if axis else self.action_size
        if not self.discrete:
            self.low = torch.as_tensor(action_space.low, dtype=torch.float32)
            self.high = torch.as_tensor(action_space.high, dtype=torch.float32)

    @property
    def n_params(self) -> int:
        return (self.feature_size + 1) * self.outputs

    def act(self, params: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """params (P, n_params), features (P, E, F) -> actions (P, E) long, or (P, E, outputs) float for boxes."""
        weights = params[:, : self.feature_size * self.outputs].view(-1, self.feature_size, self.outputs)
        bias = params[:, self.feature_size * self.outputs :].unsqueeze(1)
        outputs = torch.bmm(features, weights) + bias
        if self.axis:
            a = torch.tanh(outputs[..., 0])
            return torch.as_tensor(self.axis, device=a.device)[(a > -1 / 3).long() + (a > 1 / 3).long()]
        if self.discrete:
            return outputs.argmax(-1)
        return self.low + (torch.tanh(outputs) + 1) / 2 * (self.high - self.low)

    def action_vectors(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as the float vectors the world model reads: one-hot when discrete, as they are for boxes."""
        return F.one_hot(actions.long(), self.action_size).float() if self.discrete else actions.float()


def train_controller(
    n_params: int,
    fitness: Callable[[torch.Tensor, float], torch.Tensor],
    held_out_fitness: Callable[[torch.Tensor, float], float],
    config: Config,
    ctx: Context,
    progress: Callable[[float], None],
    seed: int,
    temperature: float | None = None,
    start: torch.Tensor | None = None,
    generation_offset: int = 0,
    ceiling: float = math.inf,
    resumed: dict[str, Any] | None = None,
    save: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[torch.Tensor, float, dict[str, Any]]:
    """CMA-ES on C's flat parameters around `start` (default zero), maximising `fitness(params (P, n), tau) -> (P,)`.

    `cma_sigma`, `cma_popsize` and `cma_generations` from `config`; temperature None: the live value (from the
    context), read again before every generation; a number: fixed (a τ-table job).
    Every generation the search's mean is scored by `held_out_fitness` (the same dreams each time, none of them seen
    by the search); the best mean so far is returned with its held-out score, not merely the last one, and the
    whole search's state (as `save` receives it). When every
    candidate reaches `ceiling` (the longest dream) two generations running, the dream has nothing left to teach
    and the search ends early.

    `save(search)` is handed the search's state whenever the context says a checkpoint is due: every generation's
    fitnesses so far. `resumed`, such a state, continues the search exactly: CMA-ES is replayed by asking the same
    seeded candidates and telling it the same fitnesses again, without dreaming them again.
    """
    strategy = cma.CMAEvolutionStrategy(
        np.zeros(n_params) if start is None else start.numpy(),
        config.cma_sigma,
        {"popsize": config.cma_popsize, "seed": seed + 1, "verbose": -9},
    )
    search = resumed or {
        "fitness": torch.zeros(0, config.cma_popsize),
        "best": torch.zeros(n_params) if start is None else start,
        "best_score": -math.inf,
        "at_ceiling": 0,
    }
    for scores in search["fitness"].numpy():
        strategy.tell(strategy.ask(), (-scores).tolist())
    best, best_score, at_ceiling, fitness_so_far = (
        search["best"],
        search["best_score"],
        search["at_ceiling"],
        list(search["fitness"]),
    )
    generations = len(fitness_so_far) if at_ceiling == 2 else config.cma_generations  # a finished search stays so
    for generation in range(len(fitness_so_far) + 1, generations + 1):
        ctx.keep_going()
        tau = ctx.live(config).temperature if temperature is None else temperature
        candidates = strategy.ask()
        scores = fitness(torch.as_tensor(np.stack(candidates), dtype=torch.float32), tau).numpy()
        strategy.tell(candidates, (-scores).tolist())  # pycma minimises
        mean = torch.as_tensor(strategy.mean, dtype=torch.float32)
        mean_score = held_out_fitness(mean, tau)
        if mean_score >= best_score:
            best, best_score = mean, mean_score
        step = generation_offset + generation
        ctx.log(
            step,
            fitness_best=scores.max(),
            fitness_mean=scores.mean(),
            fitness_worst=scores.min(),
            held_out=mean_score,
            cma_temperature=tau,
            cma_sigma=strategy.sigma,
        )
        ctx.snapshot(
            "cma",
            step,
            {
                "fitness": np.sort(scores)[::-1].astype(np.float32),
                "temperature": np.float32(tau),
                "generation": np.int64(step),
            },
        )
        progress(generation / generations)
        fitness_so_far.append(torch.as_tensor(scores, dtype=torch.float32))
        at_ceiling = at_ceiling + 1 if scores.min() >= ceiling else 0
        if at_ceiling == 2:
            break
        if save and ctx.checkpoint_due():
            save(searched(fitness_so_far, best, best_score, at_ceiling))
    search = searched(fitness_so_far, best, best_score, at_ceiling)
    if save:  # the whole search: a resume after it replays it and goes straight on
        save(search)
    return best, best_score, search


def searched(fitness: list[torch.Tensor], best: torch.Tensor, best_score: float, at_ceiling: int) -> dict[str, Any]:
    """A search's state as a checkpoint keeps it: every generation's fitnesses, the best mean so far."""
    return {
        "fitness": torch.stack(fitness) if fitness else torch.zeros(0, 0),
        "best": best,
        "best_score": float(best_score),
        "at_ceiling": at_ceiling,
        "generation": len(fitness),
    }
