"""The real environments, each seen as 64x64 frames: the paper's DoomTakeCover (ViZDoom), a seconds-fast
take-cover tutorial game, CartPole from pixels, CarRacing.

Every observation is a uint8 array (64, 64, channels): three (RGB) for Doom and CarRacing, one (an object
mask) for the two small games.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from engine.labs.world_models.facts import ENVS, TIME_LIMIT
from engine.params import ConfigError

FRAME = 64


class TakeCoverEnv(gym.Env):
    """Dodge falling projectiles: move left or right (or stay); reward 1 per step survived.

    The cheap analogue of DoomTakeCover: projectiles spawn at random columns at random times, so the future
    is genuinely uncertain, and a world model sampled at low temperature forgets to spawn them.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 20}
    AGENT_WIDTH, AGENT_HEIGHT, AGENT_SPEED = 10, 4, 3
    PROJECTILE_SIZE, FALL_SPEED = 6, 3
    AGENT_SHADE, PROJECTILE_SHADE = 160, 255  # grey levels in the observation

    def __init__(self, render_mode: str | None = None, max_steps: int = 500, spawn_probability: float = 0.12):
        self.render_mode = render_mode
        self.max_steps = max_steps
        self.spawn_probability = spawn_probability
        self.observation_space = spaces.Box(0, 255, (FRAME, FRAME, 1), np.uint8)
        self.action_space = spaces.Discrete(3)  # GAMES["take_cover"].actions
        self.agent_x = 0
        self.projectiles = np.zeros((0, 2), dtype=np.int64)  # (x, y) of each projectile's top-left corner
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.agent_x = (FRAME - self.AGENT_WIDTH) // 2
        self.projectiles = np.zeros((0, 2), dtype=np.int64)
        self.steps = 0
        return self._frame(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        self.agent_x = int(np.clip(self.agent_x + (int(action) - 1) * self.AGENT_SPEED, 0, FRAME - self.AGENT_WIDTH))
        self.projectiles[:, 1] += self.FALL_SPEED
        self.projectiles = self.projectiles[self.projectiles[:, 1] < FRAME]
        if self.np_random.random() < self.spawn_probability:
            x = self.np_random.integers(0, FRAME - self.PROJECTILE_SIZE + 1)
            self.projectiles = np.concatenate([self.projectiles, [[x, 0]]])
        self.steps += 1
        terminated = self._hit()
        truncated = self.steps >= self.max_steps
        return self._frame(), 1.0, terminated, truncated, {}

    def _hit(self) -> bool:
        agent_top = FRAME - 2 - self.AGENT_HEIGHT
        xs, ys = self.projectiles[:, 0], self.projectiles[:, 1]
        overlap_x = (xs < self.agent_x + self.AGENT_WIDTH) & (xs + self.PROJECTILE_SIZE > self.agent_x)
        overlap_y = (ys < agent_top + self.AGENT_HEIGHT) & (ys + self.PROJECTILE_SIZE > agent_top)
        return bool(np.any(overlap_x & overlap_y))

    def _frame(self) -> np.ndarray:
        frame = np.zeros((FRAME, FRAME, 1), dtype=np.uint8)
        agent_top = FRAME - 2 - self.AGENT_HEIGHT
        frame[agent_top : agent_top + self.AGENT_HEIGHT, self.agent_x : self.agent_x + self.AGENT_WIDTH] = (
            self.AGENT_SHADE
        )
        for x, y in self.projectiles:
            frame[y : y + self.PROJECTILE_SIZE, x : x + self.PROJECTILE_SIZE] = self.PROJECTILE_SHADE
        return frame

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self._frame(), 3, axis=2)


def block_reduce(image: np.ndarray, rows: int, cols: int, reduce: np.ufunc) -> np.ndarray:
    """Shrink an (H, W, ...) image to (rows, cols, ...) by reducing near-equal blocks (H, W need not divide)."""
    row_starts = np.linspace(0, image.shape[0], rows, endpoint=False).astype(int)
    col_starts = np.linspace(0, image.shape[1], cols, endpoint=False).astype(int)
    return reduce.reduceat(reduce.reduceat(image, row_starts, axis=0), col_starts, axis=1)


class CartPolePixels(gym.ObservationWrapper):
    """CartPole-v1 seen as a 64x64 grey image of the cart and pole: what fraction of each pixel they cover.

    Drawn straight from the state with the geometry of gymnasium's own renderer (600x400, 125 px per metre,
    rows 150-330: from the upright pole's tip to below the cart; the track line, which never moves, is left
    out). Coverage keeps the pole's sub-pixel tilt that a 64-wide thresholded render would lose, and drawing
    costs about 1 ms a frame instead of pygame's 6.
    """

    SUB = 4  # samples per pixel along each axis
    SCALE, TOP, HEIGHT, WIDTH = 125.0, 150.0, 180.0, 600.0  # render px per metre; the crop of the 600x400 render
    PIVOT_ROW, POLE_LENGTH, POLE_HALF_WIDTH = 292.5, 120.0, 5.0
    CART_ROW, CART_HALF_WIDTH, CART_HALF_HEIGHT = 300.0, 25.0, 15.0
    REACH = 135.0  # the furthest any drawn point lies from the cart's centre, in render px

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = spaces.Box(0, 255, (FRAME, FRAME, 1), np.uint8)
        samples = np.arange(FRAME * self.SUB) + 0.5
        self.rows = (self.TOP + samples * self.HEIGHT / (FRAME * self.SUB))[:, None]
        self.cols = (samples * self.WIDTH / (FRAME * self.SUB))[None, :]

    def observation(self, observation: np.ndarray) -> np.ndarray:
        x, _, theta, _ = observation
        cart_x = x * self.SCALE + self.WIDTH / 2
        pixel = self.WIDTH / FRAME  # only the columns near the cart can be covered: sample just those
        first = int(np.clip((cart_x - self.REACH) // pixel, 0, FRAME)) * self.SUB
        last = int(np.clip((cart_x + self.REACH) // pixel + 1, 0, FRAME)) * self.SUB
        dx, dy = self.cols[:, first:last] - cart_x, self.PIVOT_ROW - self.rows
        along = dx * np.sin(theta) + dy * np.cos(theta)  # the pole's axis, tilted by theta from upright
        across = dx * np.cos(theta) - dy * np.sin(theta)
        pole = (along >= -self.POLE_HALF_WIDTH) & (along <= self.POLE_LENGTH) & (np.abs(across) <= self.POLE_HALF_WIDTH)
        cart = (np.abs(dx) <= self.CART_HALF_WIDTH) & (np.abs(self.rows - self.CART_ROW) <= self.CART_HALF_HEIGHT)
        covered = np.zeros((FRAME * self.SUB, FRAME * self.SUB), np.float32)
        covered[:, first:last] = pole | cart
        coverage = covered.reshape(FRAME, self.SUB, FRAME, self.SUB).mean(axis=(1, 3))
        return (coverage * 255).round().astype(np.uint8)[:, :, None]


class CarRacingPixels(gym.ObservationWrapper):
    """CarRacing-v3's 96x96 RGB frames averaged down to 64x64 (the dashboard stays, as in the paper)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = spaces.Box(0, 255, (FRAME, FRAME, 3), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        sums = block_reduce(observation.astype(np.float32), FRAME, FRAME, np.add)
        counts = block_reduce(np.ones(observation.shape[:2] + (1,), np.float32), FRAME, FRAME, np.add)
        return (sums / counts).round().astype(np.uint8)


class DoomTakeCover(gym.Env):
    """ViZDoom's own `VizdoomTakeCover-v1` as the paper saw it: 64x64 RGB frames, episodes cut at 2,100 steps.

    Actions: GAMES["doom"].actions; reward 1 per tic survived. The frame is the top 5/6 of the screen (the
    paper's 400-of-480-row crop) area-averaged to 64x64; Doom's red pain flash is on, so V sees a hit.
    ViZDoom renders at 160x120 (2.5x faster than 320x240, and 64x64 needs no more). Its engine writes
    `_vizdoom.ini` and a `_vizdoom/` folder where it starts: both go to a cache folder, never the user's cwd.
    On death ViZDoom has no screen; the last frame is repeated instead of its black one.
    """

    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 35}
    CROP = 5 / 6

    def __init__(self, skill: int = 4, time_limit: int = TIME_LIMIT):
        from vizdoom import gymnasium_wrapper  # noqa: F401  registers VizdoomTakeCover-v1

        # frame() is two tiny matrix products per step: with a thread per core, each waits on the other threads,
        # and under load a step took 100 ms instead of 1. Whoever plays Doom (a worker, the CLI, a test) plays it
        # on one thread, as every trainer here does.
        torch.set_num_threads(1)
        self.game = gym.make(
            "VizdoomTakeCover-v1",
            screen_resolution="RES_160X120",
            doom_skill=skill,
            render_screen_flashes=True,
            doom_config_path=str(vizdoom_home() / "_vizdoom.ini"),
        )
        self.time_limit, self.steps = time_limit, 0
        self.observation_space = spaces.Box(0, 255, (FRAME, FRAME, 3), np.uint8)
        self.action_space = spaces.Discrete(3)
        self.last = np.zeros(self.observation_space.shape, np.uint8)
        self.rows: torch.Tensor | None = None
        self.cols: torch.Tensor | None = None

    def frame(self, screen: np.ndarray) -> np.ndarray:
        """Crop, then area-average to 64x64 as two matrix products (4x faster than numpy's reduceat)."""
        crop = screen[: round(screen.shape[0] * self.CROP)]
        if self.rows is None or self.rows.shape[1] != crop.shape[0] or self.cols.shape[0] != crop.shape[1]:
            self.rows, self.cols = area_matrix(crop.shape[0]), area_matrix(crop.shape[1]).T
        # torch, not numpy: numpy's BLAS would start a thread per core for these tiny products
        shrunk = self.rows @ torch.from_numpy(crop).permute(2, 0, 1).float() @ self.cols
        return shrunk.permute(1, 2, 0).round().to(torch.uint8).numpy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        with IN_VIZDOOM_HOME:  # the first reset starts the engine, which writes where it starts
            cwd = os.getcwd()
            os.chdir(vizdoom_home())
            try:
                observation, _ = self.game.reset(seed=int(self.np_random.integers(2**31)))
            finally:
                os.chdir(cwd)
        self.steps = 0
        self.last = self.frame(observation["screen"])
        return self.last, {"health": float(observation["gamevariables"][0])}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        observation, reward, terminated, _, _ = self.game.step(int(action))
        self.steps += 1
        if not terminated:
            self.last = self.frame(observation["screen"])
        health = 0.0 if terminated else float(observation["gamevariables"][0])
        return self.last, float(reward), terminated, self.steps >= self.time_limit, {"health": health}

    def close(self) -> None:
        self.game.close()


IN_VIZDOOM_HOME = threading.Lock()


def area_matrix(size: int) -> torch.Tensor:
    """(64, size) weights averaging `size` samples into 64 equal intervals, each sample by its overlap."""
    edges = np.linspace(0, size, FRAME + 1)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return torch.from_numpy(overlap / overlap.sum(1, keepdims=True)).float()


def vizdoom_home() -> Path:
    """Where ViZDoom keeps its ini and folders: $DREAMLAB_DATA/vizdoom if set, else the system's temp folder."""
    base = os.environ.get("DREAMLAB_DATA")
    home = Path(base) / "vizdoom" if base else Path(tempfile.gettempdir()) / "dreamlab-vizdoom"
    home.mkdir(parents=True, exist_ok=True)
    return home


def env_spaces(name: str) -> tuple[spaces.Space, spaces.Space]:
    """(observation space, action space) of a game, without starting Doom's engine for it."""
    if name == "doom":
        return spaces.Box(0, 255, (FRAME, FRAME, 3), np.uint8), spaces.Discrete(3)
    env = make_env(name, 0)
    env.close()
    return env.observation_space, env.action_space


def make_env(name: str, seed: int, doom_skill: int = 4) -> gym.Env:
    """A seeded real environment producing (64, 64, channels) uint8 frames; reset() it before use."""
    if name == "doom":
        env: gym.Env = DoomTakeCover(doom_skill)
    elif name == "take_cover":
        env = TakeCoverEnv()
    elif name == "cartpole":
        env = CartPolePixels(gym.make("CartPole-v1"))
    elif name == "carracing":
        if importlib.util.find_spec("Box2D") is None:
            raise ConfigError("env carracing needs Box2D, which is not installed: pip install 'gymnasium[box2d]'")
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # CarRacing draws its frames with pygame: offscreen
        env = CarRacingPixels(gym.make("CarRacing-v3"))
    else:
        raise ConfigError(f"env: {name!r} is not one of {', '.join(ENVS)}")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env
