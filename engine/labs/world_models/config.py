"""Every hyperparameter of the World Models lab: default, bounds, one line of help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.labs.world_models.envs import ENVS
from engine.params import ConfigError, Param, ParamSpace

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 3.0


def parse_taus(text: str) -> list[float]:
    """The bench's temperature sweep, e.g. "0.1,0.5,1.0"; raises ConfigError for anything else."""
    try:
        taus = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"taus: {text!r} must be comma-separated numbers, e.g. 0.1,0.5,1.0") from None
    if not taus or not all(MIN_TEMPERATURE <= tau <= MAX_TEMPERATURE for tau in taus):
        raise ConfigError(f"taus: {text!r} must list temperatures between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}")
    return taus


def check(config: dict[str, Any]) -> None:
    parse_taus(config["taus"])
    if config["world_from"] and not Path(config["world_from"]).is_file():
        raise ConfigError(f"world_from: no checkpoint at {config['world_from']!r}")


SPACE = ParamSpace(
    params=(
        Param("env", "take_cover", "Real environment: dodge falling projectiles, CartPole from pixels, or CarRacing "
              "(needs gymnasium[box2d])", choices=ENVS),
        Param("rounds", 1, "Iterations of collect -> train V -> train M -> train C (the paper's section 5)",
              low=1, high=10),
        Param("rollouts", 200, "Real episodes collected per round (random actions in round 1, then the controller)",
              low=2, high=10_000),
        Param("rollout_steps", 500, "Longest collected episode, in steps (longer ones are cut to save time)",
              low=10, high=2000),
        Param("exploration", 0.1, "Chance of a random action at each collected step once a controller exists",
              low=0.0, high=1.0),
        Param("z_size", 16, "Size of V's latent code z", low=2, high=128),
        Param("vae_width", 0.25, "V's channel multiplier: 1 = the paper's 32/64/128/256 convolutions",
              low=0.0625, high=2.0),
        Param("vae_epochs", 5, "Passes of V over the collected frames per round", low=1, high=100),
        Param("vae_frames", 8000, "Most frames V sees per epoch, a fresh random subset of all collected each time",
              low=100, high=1_000_000),
        Param("vae_batch", 32, "Frames per V update", low=1, high=1024),
        Param("vae_lr", 1e-3, "V's Adam learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param("free_bits", 0.5, "KL below this many nats per latent dimension is free (the paper's KL tolerance)",
              low=0.0, high=10.0),
        Param("rnn_hidden", 64, "LSTM units of M: the memory h the controller also reads", low=4, high=1024),
        Param("mdn_components", 5, "Gaussians in M's mixture for each latent dimension", low=1, high=10),
        Param("rnn_epochs", 60, "Passes of M over all collected episodes per round", low=1, high=500),
        Param("rnn_batch", 16, "Episodes per M update", low=1, high=1024),
        Param("rnn_lr", 1e-3, "M's Adam learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param("done_weight", 10.0, "Weight of the rare termination steps in M's done loss; the dream divides "
              "the odds back out before sampling termination", low=1.0, high=100.0),
        Param("temperature", 1.0, "Dream temperature tau: mixture logits / tau, sigma * sqrt(tau); takes effect "
              "at the next CMA-ES generation", low=MIN_TEMPERATURE, high=MAX_TEMPERATURE, live=True),
        Param("cma_generations", 40, "CMA-ES generations for the controller per round", low=1, high=10_000),
        Param("cma_popsize", 16, "Controllers per CMA-ES generation", low=4, high=256),
        Param("cma_sigma", 0.5, "Initial CMA-ES step size around a zero controller", low=0.001, high=10.0),
        Param("dream_episodes", 16, "Dreams per controller per generation: fitness is their mean return",
              low=1, high=256),
        Param("dream_length", 500, "Longest dream, in steps", low=10, high=5000),
        Param("real_eval_episodes", 20, "Real episodes to score a controller", low=1, high=1000),
        Param("taus", "0.1,0.5,1.0,1.15,1.3", "Comma-separated temperatures that `bench` trains a controller at, "
              "each scored in its dream and in the real game"),
        Param("world_from", "", "A checkpoint whose V and M are reused: only C is trained, at `temperature` (how "
              "the tau table compares temperatures in one shared world); empty = the whole pipeline", in_ui=False),
        Param("seed", 0, "Random seed: a run is reproducible from its config", low=0, high=2**31 - 1),
    ),
    presets={
        "quick": {},
        "cartpole": {"env": "cartpole", "rounds": 4, "rollouts": 120, "rollout_steps": 200, "vae_lr": 3e-3,
                     "vae_epochs": 6, "vae_frames": 4000, "rnn_hidden": 128, "rnn_epochs": 50, "cma_generations": 25,
                     "cma_popsize": 12, "dream_episodes": 8, "temperature": 1.3, "taus": "1.3"},
        "carracing": {"env": "carracing", "rounds": 3, "rollouts": 500, "rollout_steps": 1000, "z_size": 32,
                      "vae_width": 1.0, "vae_epochs": 10, "rnn_hidden": 256, "rnn_epochs": 20,
                      "cma_generations": 300, "cma_popsize": 64, "dream_length": 1000, "taus": "1.0"},
    },
    check=check,
)
