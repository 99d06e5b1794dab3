"""The exact answer: how close to each goal any policy can get from a start in n steps, from the known dynamics.

Discretisation. The box is covered by a fine grid of spacing CELL (81 × 81 points); `max_step` is a whole number k
of cells, so one step from a grid point reaches exactly the grid points of the L∞ ball of radius k cells around it
whose straight move touches no wall (`envs.blocked`, the same test the env applies). Breadth-first search over
these moves gives the set R_n reachable in n steps. Because the action 0 (stay) is always allowed, "reachable in
exactly n steps" and "in at most n steps" are the same set, so R_n only grows with n. The smallest L1 distance
from R_n to every goal is an L1 (taxicab) distance transform of R_n, exact on the grid; the heatmap goals are every
other grid point (41 × 41, spacing 0.05). Compared with the continuous dynamics, the only error is the snapping of
positions to the grid: at most one CELL per coordinate.

A TDM's Q(s, a, g, τ) scores the state after the action a *and* τ more steps: τ + 1 actions. So the model's value
at horizon τ is compared with R_{τ+1} (`exact_distances` returns it indexed by τ).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import distance_transform_cdt

from engine.labs.tdm.envs import BOX, LAYOUTS, blocked, inside_walls

CELL = 0.025
GOAL_STRIDE = 2  # heatmap goals: every other grid point
FINE = np.round(np.linspace(-BOX, BOX, round(2 * BOX / CELL) + 1), 12)  # wall edges fall exactly on grid points
GOALS = FINE[::GOAL_STRIDE]


def cells_per_step(max_step: float) -> int:
    cells = round(max_step / CELL)
    if cells < 1 or abs(cells * CELL - max_step) > 1e-9:
        raise ValueError(f"max_step {max_step} is not a whole number of {CELL} grid cells")
    return cells


def goal_points() -> np.ndarray:
    """The heatmap's goals as (rows = y, columns = x, 2) points."""
    gx, gy = np.meshgrid(GOALS, GOALS)
    return np.stack([gx, gy], axis=-1)


def goal_in_wall(layout: str) -> np.ndarray:
    return inside_walls(goal_points(), LAYOUTS[layout].walls)


def _shifted(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[y, x] = array[y + dy, x + dx], False where that index leaves the grid."""
    out = np.zeros_like(array)
    n = array.shape[0]
    out[max(-dy, 0) : n - max(dy, 0), max(-dx, 0) : n - max(dx, 0)] = array[
        max(dy, 0) : n - max(-dy, 0), max(dx, 0) : n - max(-dx, 0)
    ]
    return out


@lru_cache(maxsize=8)
def _moves(layout: str, max_step: float) -> tuple[tuple[int, int, np.ndarray], ...]:
    """(dy, dx, allowed) per grid move of one step: allowed[y, x] says the move from (y, x) lands on the grid, in
    free space, and touches no wall."""
    walls = LAYOUTS[layout].walls
    gx, gy = np.meshgrid(FINE, FINE)
    points = np.stack([gx, gy], axis=-1)
    free = ~inside_walls(points, walls)
    k = cells_per_step(max_step)
    moves = []
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            lands = _shifted(free, dy, dx) & free
            target = points + CELL * np.array([dx, dy])
            moves.append((dy, dx, lands & ~blocked(points, target, walls)))
    return tuple(moves)


def reachable_sets(layout: str, start: np.ndarray, steps: int, max_step: float) -> np.ndarray:
    """R_0 … R_steps as booleans (steps + 1, 81, 81) over the fine grid, rows = y; R_0 is the start's grid point."""
    reach = np.zeros((steps + 1, len(FINE), len(FINE)), dtype=bool)
    column, row = np.abs(FINE[:, None] - np.asarray(start, dtype=float)[None, :]).argmin(axis=0)
    reach[0, row, column] = True
    moves = _moves(layout, max_step)
    for n in range(1, steps + 1):
        grown = reach[n - 1].copy()
        for dy, dx, allowed in moves:
            grown |= _shifted(reach[n - 1] & allowed, -dy, -dx)
        reach[n] = grown
    return reach


def nearest_distance(reachable: np.ndarray) -> np.ndarray:
    """min over x in the set of ‖x - g‖₁ for every heatmap goal g: (41, 41)."""
    return (distance_transform_cdt(~reachable, metric="taxicab") * CELL)[::GOAL_STRIDE, ::GOAL_STRIDE]


def exact_distances(layout: str, start: np.ndarray, tau_max: int, max_step: float) -> np.ndarray:
    """d*(s, g, τ) for τ = 0 … tau_max: the smallest L1 distance to g that any policy reaches from s with τ + 1
    actions (the horizon a TDM's Q at τ covers). Shape (tau_max + 1, 41, 41), rows = y."""
    reach = reachable_sets(layout, start, tau_max + 1, max_step)
    return np.stack([nearest_distance(reach[tau + 1]) for tau in range(tau_max + 1)])
