"""A 2-D point mass in the box [-1, 1]², goal-conditioned in gymnasium-robotics' convention.

The agent moves by `max_step * a` for an action a in [-1, 1]² (so one step covers an L∞ ball of radius `max_step`);
moves past the box edge are clipped to it. A move whose straight segment touches a wall slides: the agent keeps
only the x part of the move, or else only the y part, or else stays. Every outcome is itself an allowed straight
move, so the set of places reachable in n steps is exactly that of straight, wall-free moves (reachability.py).
The same `move` function steps the gymnasium env, the vectorised evaluation rollouts and (through `blocked`) the
exact reachability, so all three agree on the physics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

BOX = 1.0
SEGMENT_SAMPLES = 9  # points tested along a move; spacing ≤ max_step/8, far below any wall's 0.1 thickness


@dataclass(frozen=True)
class Layout:
    name: str
    walls: tuple[tuple[float, float, float, float], ...]  # closed rectangles (x0, y0, x1, y1)
    starts: tuple[tuple[float, float], ...]  # where the heatmaps are scored; the first is the page's default


LAYOUTS = {
    layout.name: layout
    for layout in [
        Layout("open", (), ((-0.5, -0.5), (0.0, 0.0), (0.6, 0.3))),
        # a wall across the room with a gap in its middle: starts beside the wall must walk around it
        Layout("wall", ((-0.05, -1.0, 0.05, -0.2), (-0.05, 0.2, 0.05, 1.0)), ((-0.4, -0.5), (-0.2, 0.6), (0.5, -0.2))),
        # a cup open at the top: from inside it, the goals just below are the farthest away
        Layout(
            "umaze",
            ((-0.55, -0.55, 0.55, -0.45), (-0.55, -0.55, -0.45, 0.5), (0.45, -0.55, 0.55, 0.5)),
            ((0.0, -0.2), (0.0, -0.8), (-0.8, 0.3)),
        ),
    ]
}


def inside_walls(points: np.ndarray, walls: tuple) -> np.ndarray:
    """Boolean mask (...,) of points (..., 2) that lie inside any wall."""
    hit = np.zeros(points.shape[:-1], dtype=bool)
    for x0, y0, x1, y1 in walls:
        hit |= (points[..., 0] >= x0) & (points[..., 0] <= x1) & (points[..., 1] >= y0) & (points[..., 1] <= y1)
    return hit


def blocked(start: np.ndarray, end: np.ndarray, walls: tuple) -> np.ndarray:
    """Whether the straight move start → end (broadcastable arrays (..., 2)) touches a wall."""
    if not walls:
        return np.zeros(np.broadcast_shapes(start.shape, end.shape)[:-1], dtype=bool)
    fractions = np.linspace(0.0, 1.0, SEGMENT_SAMPLES).reshape((-1,) + (1,) * start.ndim)
    points = start + fractions * (end - start)
    return inside_walls(points, walls).any(axis=0)


def move(position: np.ndarray, action: np.ndarray, max_step: float, walls: tuple) -> np.ndarray:
    """s' = clip(s + max_step·clip(a, -1, 1)), sliding along a wall it would touch (module docstring). Vectorised."""
    target = np.clip(position + max_step * np.clip(action, -1.0, 1.0), -BOX, BOX)
    along_x = np.stack([target[..., 0], position[..., 1]], axis=-1)
    along_y = np.stack([position[..., 0], target[..., 1]], axis=-1)
    landed = position
    for candidate in (along_y, along_x, target):  # the last allowed candidate wins: full move first
        landed = np.where(blocked(position, candidate, walls)[..., None], landed, candidate)
    return landed


def sample_free(rng: np.random.Generator, count: int, walls: tuple) -> np.ndarray:
    """Points drawn uniformly from the free part of the box (rejection sampling)."""
    points = rng.uniform(-BOX, BOX, (count, 2))
    while (bad := inside_walls(points, walls)).any():
        points[bad] = rng.uniform(-BOX, BOX, (int(bad.sum()), 2))
    return points


def goal_distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    return np.linalg.norm(achieved - desired, axis=-1)


class PointMassEnv(gym.Env):
    """Dict observation {observation, achieved_goal, desired_goal} (all the position or goal, float32, in [-1, 1]²);
    dense reward -‖s' - g‖₂ from `compute_reward`; success within `success_radius`; truncated after `max_steps`."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, layout: str = "wall", max_step: float = 0.15, max_steps: int = 50, success_radius: float = 0.1):
        self.layout = LAYOUTS[layout]
        self.max_step, self.max_steps, self.success_radius = max_step, max_steps, success_radius
        point = gym.spaces.Box(-BOX, BOX, (2,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({"observation": point, "achieved_goal": point, "desired_goal": point})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.position = np.zeros(2)
        self.goal = np.zeros(2)
        self.steps = 0

    def observation(self) -> dict[str, np.ndarray]:
        position = self.position.astype(np.float32)
        return {"observation": position, "achieved_goal": position.copy(), "desired_goal": self.goal.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        return {"is_success": bool(goal_distance(self.position, self.goal) <= self.success_radius)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        start_and_goal = sample_free(self.np_random, 2, self.layout.walls)
        self.position = np.asarray(options.get("start", start_and_goal[0]), dtype=float)
        self.goal = np.asarray(options.get("goal", start_and_goal[1]), dtype=float)
        self.steps = 0
        return self.observation(), self._info()

    def step(self, action):
        self.position = move(self.position, np.asarray(action, dtype=float), self.max_step, self.layout.walls)
        self.steps += 1
        observation = self.observation()
        reward = float(self.compute_reward(observation["achieved_goal"], observation["desired_goal"], {}))
        return observation, reward, False, self.steps >= self.max_steps, self._info()

    def compute_reward(self, achieved_goal, desired_goal, info):
        return -goal_distance(np.asarray(achieved_goal, dtype=float), np.asarray(desired_goal, dtype=float))
