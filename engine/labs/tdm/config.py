"""Every hyperparameter of the TDM lab, one line each (type, default, bounds), its help in the line under it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.labs.tdm.envs import LAYOUTS
from engine.params import ConfigError, ParamSpace, param

HEADS = ("vector", "scalar", "ddpg")  # the critic's heads (networks.py): the last is the DDPG baseline's


def bench_layouts(names: str) -> list[str]:
    layouts = [name.strip() for name in names.split(",") if name.strip()]
    if not layouts or any(name not in LAYOUTS for name in layouts):
        raise ConfigError(f"bench_layouts: {names!r} must list layouts from {', '.join(LAYOUTS)}")
    return layouts


@dataclass(frozen=True)
class Config:
    layout: str = param("wall", choices=tuple(LAYOUTS))
    """Room: open, a wall with a gap in the middle, or a U-shaped cup"""
    head: str = param("vector", choices=HEADS[:2])
    """TDM critic: the paper's vector head (one distance per goal dimension, Q = their sum) or a scalar Q"""
    baseline: bool = param(False)
    """Also train the model-free DDPG baseline (dense reward -‖s'-g‖), step for step beside the TDM on the same budget
    (the compare preset)"""
    env_steps: int = param(9000, low=10, high=200_000, branch=True)
    """Environment steps per learner (9000: the wall's heatmap reaches IoU 0.9 at every τ, from 0.89 at 7000;
    measured over 5 seeds, docs/results.md)"""
    tau_max: int = param(15, low=1, high=40)
    """Largest horizon τ: Q(s,a,g,τ) looks τ + 1 steps ahead"""
    max_step: float = param(0.15, choices=(0.1, 0.125, 0.15, 0.2, 0.25))
    """Longest move per step along each axis (a whole number of 0.025 grid cells)"""
    episode_steps: int = param(50, low=5, high=400)
    """Steps per episode, in training and in the goal-reaching test"""
    radius: float = param(0.1, low=0.025, high=0.5)
    """A goal is reached within this distance (the heatmap's reached set and success)"""
    hidden: int = param(128, low=8, high=512)
    """Units in each hidden layer of the actor and the critic"""
    layers: int = param(3, low=1, high=6)
    """Hidden layers of the actor and the critic (3: the critic's distances are sharper near the walls than with the
    paper's 2; measured over 5 seeds, docs/results.md)"""
    batch: int = param(256, low=8, high=2048, branch=True)
    """Transitions per update"""
    updates_per_step: int = param(3, low=1, high=32, live=True)
    """Gradient updates per environment step (the paper's most important knob)"""
    critic_lr: float = param(3e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """Critic Adam learning rate"""
    actor_lr: float = param(3e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """Actor Adam learning rate"""
    noise: float = param(0.3, low=0.0, high=1.0, live=True)
    """Exploration: std of the Gaussian added to the actor's action"""
    future_goals: float = param(0.4, low=0.0, high=1.0, branch=True)
    """Share of replayed goals relabelled with a later state of the same episode"""
    random_goals: float = param(0.5, low=0.0, high=1.0, branch=True)
    """Share of replayed goals drawn uniformly from the room"""
    target_rate: float = param(0.01, low=1e-4, high=1.0, branch=True)
    """Polyak rate of the target networks per update"""
    gamma: float = param(0.98, low=0.5, high=1.0, branch=True)
    """DDPG discount (the TDM needs none: τ is its horizon)"""
    warmup: int = param(500, low=0, high=100_000)
    """Steps of uniformly random actions before learning starts"""
    buffer_episodes: int = param(2000, low=1, high=100_000)
    """Replay capacity in episodes"""
    eval_every: int = param(500, low=10, high=100_000, branch=True)
    """Environment steps between evaluations (curves, heatmaps, checkpoint)"""
    eval_pairs: int = param(200, low=1, high=5000, branch=True)
    """Held-out start-goal pairs in each goal-reaching test"""
    bench_layouts: str = param("open,wall,umaze", in_ui=False)
    """Comma-separated layouts that `bench` trains and scores"""
    success_mark: float = param(0.9, low=0.0, high=1.0, in_ui=False)
    """Success rate at which `bench` reports a learner's env steps to get there"""
    min_out_of_reach: int = param(10, low=2, high=1681, in_ui=False)
    """Fewest goals out of reach for which a heatmap's rank correlation is reported (`bench`; fewer: none)"""
    seed: int = param(0, low=0, high=2**31 - 1)
    """Random seed: a run is reproducible from its config"""

    def __post_init__(self) -> None:
        if self.future_goals + self.random_goals > 1:
            raise ConfigError("future_goals + random_goals: the two relabelling shares add up to more than 1")
        if self.batch > self.buffer_episodes * self.episode_steps:
            raise ConfigError("batch: larger than the replay buffer")
        bench_layouts(self.bench_layouts)


SPACE = ParamSpace.of(
    Config,
    presets={
        "quick": {},
        "compare": {"baseline": True, "env_steps": 8000},
        "paper": {
            "baseline": True,
            "env_steps": 50_000,
            "hidden": 256,
            "layers": 2,
            "updates_per_step": 10,
            "tau_max": 25,
            "critic_lr": 1e-3,
            "actor_lr": 1e-3,
        },
    },
)
