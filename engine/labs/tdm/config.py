"""Every hyperparameter of the TDM lab: default, bounds, one line of help."""

from __future__ import annotations

from engine.labs.tdm.envs import LAYOUTS
from engine.params import ConfigError, Param, ParamSpace

HEADS = ("vector", "scalar", "ddpg")  # the critic's heads (networks.py): the last is the DDPG baseline's


def bench_layouts(config: dict) -> list[str]:
    layouts = [name.strip() for name in config["bench_layouts"].split(",") if name.strip()]
    if not layouts or any(name not in LAYOUTS for name in layouts):
        raise ConfigError(f"bench_layouts: {config['bench_layouts']!r} must list layouts from {', '.join(LAYOUTS)}")
    return layouts


def check(config: dict) -> None:
    if config["future_goals"] + config["random_goals"] > 1:
        raise ConfigError("future_goals + random_goals: the two relabelling shares add up to more than 1")
    if config["batch"] > config["buffer_episodes"] * config["episode_steps"]:
        raise ConfigError("batch: larger than the replay buffer")
    bench_layouts(config)


SPACE = ParamSpace(
    params=(
        Param(
            "layout", "wall", "Room: open, a wall with a gap in the middle, or a U-shaped cup", choices=tuple(LAYOUTS)
        ),
        Param(
            "head",
            "vector",
            "TDM critic: the paper's vector head (one distance per goal dimension, Q = their sum) or a scalar Q",
            choices=HEADS[:2],
        ),
        Param(
            "baseline",
            False,
            "Also train the model-free DDPG baseline (dense reward -‖s'-g‖), step for step "
            "beside the TDM on the same budget (the compare preset)",
        ),
        Param("env_steps", 7000, "Environment steps per learner", low=10, high=200_000, branch=True),
        Param("tau_max", 15, "Largest horizon τ: Q(s,a,g,τ) looks τ + 1 steps ahead", low=1, high=40),
        Param(
            "max_step",
            0.15,
            "Longest move per step along each axis (a whole number of 0.025 grid cells)",
            choices=(0.1, 0.125, 0.15, 0.2, 0.25),
        ),
        Param("episode_steps", 50, "Steps per episode, in training and in the goal-reaching test", low=5, high=400),
        Param(
            "radius",
            0.1,
            "A goal is reached within this distance (the heatmap's reached set and success)",
            low=0.025,
            high=0.5,
        ),
        Param("hidden", 128, "Units in each hidden layer of the actor and the critic", low=8, high=512),
        Param("layers", 2, "Hidden layers of the actor and the critic", low=1, high=6),
        Param("batch", 256, "Transitions per update", low=8, high=2048, branch=True),
        Param(
            "updates_per_step",
            3,
            "Gradient updates per environment step (the paper's most important knob)",
            low=1,
            high=32,
            live=True,
        ),
        Param("critic_lr", 3e-3, "Critic Adam learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param("actor_lr", 3e-3, "Actor Adam learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param(
            "noise", 0.3, "Exploration: std of the Gaussian added to the actor's action", low=0.0, high=1.0, live=True
        ),
        Param(
            "future_goals",
            0.4,
            "Share of replayed goals relabelled with a later state of the same episode",
            low=0.0,
            high=1.0,
            branch=True,
        ),
        Param(
            "random_goals", 0.5, "Share of replayed goals drawn uniformly from the room", low=0.0, high=1.0, branch=True
        ),
        Param("target_rate", 0.01, "Polyak rate of the target networks per update", low=1e-4, high=1.0, branch=True),
        Param("gamma", 0.98, "DDPG discount (the TDM needs none: τ is its horizon)", low=0.5, high=1.0, branch=True),
        Param("warmup", 500, "Steps of uniformly random actions before learning starts", low=0, high=100_000),
        Param("buffer_episodes", 2000, "Replay capacity in episodes", low=1, high=100_000),
        Param(
            "eval_every",
            500,
            "Environment steps between evaluations (curves, heatmaps, checkpoint)",
            low=10,
            high=100_000,
            branch=True,
        ),
        Param("eval_pairs", 200, "Held-out start-goal pairs in each goal-reaching test", low=1, high=5000, branch=True),
        Param(
            "bench_layouts", "open,wall,umaze", "Comma-separated layouts that `bench` trains and scores", in_ui=False
        ),
        Param(
            "success_mark",
            0.9,
            "Success rate at which `bench` reports a learner's env steps to get there",
            low=0.0,
            high=1.0,
            in_ui=False,
        ),
        Param(
            "min_out_of_reach",
            10,
            "Fewest goals out of reach for which a heatmap's rank correlation is reported (`bench`; fewer: none)",
            low=2,
            high=1681,
            in_ui=False,
        ),
        Param("seed", 0, "Random seed: a run is reproducible from its config", low=0, high=2**31 - 1),
    ),
    presets={
        "quick": {},
        "compare": {"baseline": True, "env_steps": 8000},
        "paper": {
            "baseline": True,
            "env_steps": 50_000,
            "hidden": 256,
            "updates_per_step": 10,
            "tau_max": 25,
            "critic_lr": 1e-3,
            "actor_lr": 1e-3,
        },
    },
    check=check,
)
