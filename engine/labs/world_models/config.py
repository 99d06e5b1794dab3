"""Every hyperparameter of the World Models lab: default, bounds, one line of help. The defaults are the Doom
quick preset: the whole pipeline and the τ table in about 20 minutes on two cores."""

from __future__ import annotations

from typing import Any

from engine.labs.world_models.facts import DEATH_RULES, DEATH_TARGETS, DOOM_SKILLS, ENVS, GAMES, TABLE_TAUS
from engine.params import ConfigError, Param, ParamSpace

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 3.0
DEVICES = ("cpu", "auto", "cuda")


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


def data_memory_mb(config: dict[str, Any]) -> float:
    """What a run holds beyond torch: every round's collected 64×64 frames, kept for V and M. A τ-table job reuses a
    world and collects nothing."""
    if config["world_run"]:
        return 100.0
    game = GAMES[config["env"]]
    steps = min(config["rollout_steps"], game.expected_steps) + 1
    return config["rounds"] * config["rollouts"] * steps * 64 * 64 * game.channels / 2**20


# the small games' V weighs every pixel alike, as measured before salience existed (their objects are much of a frame)
SMALL_GAMES = {"salience": 0.0}

SPACE = ParamSpace(
    params=(
        Param(
            "env",
            "doom",
            "Real game: DoomTakeCover (ViZDoom, the paper's), a seconds-fast take-cover tutorial "
            "game, CartPole from pixels, or CarRacing (needs gymnasium[box2d])",
            choices=ENVS,
        ),
        Param(
            "doom_skill",
            4,
            "Doom's difficulty: 4 is the scenario's own (the paper's); 5 makes fireballs deadlier",
            low=DOOM_SKILLS[0],
            high=DOOM_SKILLS[1],
        ),
        Param(
            "rounds",
            1,
            "Iterations of collect -> train V -> train M -> train C (the paper's section 5)",
            low=1,
            high=10,
        ),
        Param(
            "rollouts",
            500,
            "Real episodes collected per round (random actions in round 1, then the controller)",
            low=2,
            high=10_000,
        ),
        Param("rollout_steps", 2100, "Longest collected episode, in steps", low=10, high=2100),
        Param(
            "envs_at_once",
            16,
            "Real games played in lockstep while collecting and scoring: V and M see their "
            "frames as one batch per step (more: faster, more memory; random actions are drawn per slot)",
            low=1,
            high=64,
        ),
        Param(
            "action_repeat",
            30,
            "The random policy holds each action for 1 to this many steps (the paper: 1-10; "
            "longer holds show M long sweeps across the room)",
            low=1,
            high=50,
        ),
        Param(
            "exploration",
            0.1,
            "Chance of a random action at each collected step once a controller exists",
            low=0.0,
            high=1.0,
            branch=True,
        ),
        Param("z_size", 32, "Size of V's latent code z (the paper: 64)", low=2, high=128),
        Param(
            "vae_width", 0.5, "V's channel multiplier: 1 = the paper's 32/64/128/256 convolutions", low=0.0625, high=2.0
        ),
        Param("vae_epochs", 24, "Passes of V over the collected frames per round", low=1, high=100),
        Param(
            "vae_frames",
            8000,
            "Most frames V sees per epoch, a fresh random subset of all collected each time",
            low=100,
            high=1_000_000,
        ),
        Param("vae_batch", 32, "Frames per V update", low=1, high=1024),
        Param("vae_lr", 1e-3, "V's Adam learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param(
            "free_bits",
            0.5,
            "KL below this many nats per latent dimension is free (the paper's KL tolerance)",
            low=0.0,
            high=10.0,
        ),
        Param(
            "salience",
            10.0,
            "How much more V's loss counts pixels unlike the average frame: 1 + this x their "
            "difference (0: all alike, the paper; Doom's fireballs are 0.2 % of a frame)",
            low=0.0,
            high=100.0,
        ),
        Param(
            "rnn_hidden",
            256,
            "LSTM units of M: the memory h the controller also reads (the paper: 512)",
            low=4,
            high=1024,
        ),
        Param("mdn_components", 5, "Gaussians in M's mixture for each latent dimension", low=1, high=10),
        Param(
            "rnn_updates",
            4000,
            "M's Adam updates per round, each on rnn_batch random windows of the collected episodes",
            low=1,
            high=1_000_000,
        ),
        Param("rnn_window", 64, "Steps in each of M's training windows", low=2, high=2100),
        Param(
            "mirror",
            0,
            "1: M also learns every episode in a mirror, frames flipped and left and right swapped (the game's room "
            "is symmetric: as many hits again, and no side safer than the other); 0: as collected",
            low=0,
            high=1,
        ),
        Param("rnn_batch", 16, "Windows per M update", low=1, high=1024),
        Param(
            "rnn_posterior",
            1.0,
            "Spread of V's posterior that M's training codes are drawn with: 1 = sampled "
            "as in the paper (M learns V's uncertainty too), 0 = V's means",
            low=0.0,
            high=1.0,
        ),
        Param(
            "rnn_grad_clip", 1.0, "Largest gradient norm of one M update (the paper clips at 1)", low=0.01, high=100.0
        ),
        Param(
            "rnn_lr", 1e-3, "M's Adam learning rate at its first update", low=1e-5, high=1e-1, live=True, log_scale=True
        ),
        Param(
            "rnn_lr_final",
            0.01,
            "M's learning rate decays geometrically to this fraction of rnn_lr by its "
            "last update (the paper's code: 1e-3 to 1e-5)",
            low=1e-4,
            high=1.0,
            log_scale=True,
        ),
        Param(
            "death_weight",
            10.0,
            "Each death step counts this many times in M's death loss (deaths are one step "
            "in hundreds); the dream divides the odds back out",
            low=1.0,
            high=1000.0,
        ),
        Param(
            "death_target",
            "hit",
            "What ends a dream: M's prediction of a death (the paper), or of any fireball "
            "hit (Doom: a death follows 1-3 hits, so a dream that ends at the first is stricter than the game)",
            choices=DEATH_TARGETS,
        ),
        Param(
            "death_horizon",
            0,
            "Steps before a death that M also learns to call deadly (0: the death step only)",
            low=0,
            high=100,
        ),
        Param(
            "death_rule",
            "sample",
            "How a dream dies: drawn with M's probability, or when M's weighted output "
            "passes death_threshold (the paper's cut-off)",
            choices=DEATH_RULES,
            branch=True,
        ),
        Param(
            "death_threshold",
            0.9,
            "The cut-off rule ends a dream when M's weighted P(death) passes this (the paper: one half)",
            low=0.01,
            high=0.99,
            branch=True,
        ),
        Param(
            "temperature",
            1.15,
            "Dream temperature tau: mixture logits / tau, sigma * sqrt(tau); takes effect "
            "at the next CMA-ES generation",
            low=MIN_TEMPERATURE,
            high=MAX_TEMPERATURE,
            live=True,
        ),
        Param(
            "cma_generations", 28, "CMA-ES generations for the controller per round", low=1, high=10_000, branch=True
        ),
        Param("cma_popsize", 16, "Controllers per CMA-ES generation (the paper: 64)", low=4, high=256),
        Param(
            "cma_sigma",
            0.1,
            "Initial CMA-ES step size around a zero controller (the paper's code: 0.1)",
            low=0.001,
            high=10.0,
        ),
        Param(
            "dream_episodes",
            16,
            "Dreams per controller per generation, the same for every candidate: its fitness "
            "is their mean return (the paper: 16)",
            low=1,
            high=256,
            branch=True,
        ),
        Param(
            "held_out_dreams",
            16,
            "Dreams, unseen by the search, that score the search's mean each generation: C is the best mean so far",
            low=1,
            high=256,
            branch=True,
        ),
        Param("dream_length", 2100, "Longest dream, in steps (Doom's time limit)", low=10, high=5000, branch=True),
        Param(
            "real_eval_episodes",
            100,
            "Real episodes that score a controller (and the random policy)",
            low=1,
            high=1000,
            branch=True,
        ),
        Param(
            "probe_episodes",
            40,
            "Held-out random episodes the probe starts from (a state before each one's first "
            "hit, and one anywhere); 0: no probe",
            low=0,
            high=500,
        ),
        Param(
            "probe_horizon",
            35,
            "Steps each behaviour is held from a probe state, in the game and in the dream",
            low=1,
            high=500,
        ),
        Param("probe_lead", 20, "The probe's near-hit states come this many steps before a real hit", low=1, high=500),
        Param(
            "pictures_steps",
            25,
            "The second probe (does the dream show where you went?): steps left and right are each held, in the game "
            "and in the dream, from a real start after 20 steps of each held-out episode",
            low=1,
            high=500,
        ),
        Param(
            "probe_dreams",
            16,
            "Dreams per probe state, behaviour and τ: M's odds are their mean",
            low=1,
            high=1024,
            branch=True,
        ),
        Param(
            "taus",
            ",".join(f"{tau:g}" for tau in TABLE_TAUS),
            "Comma-separated temperatures that `bench` trains a controller at, "
            "each scored in its dream and in the real game",
            in_ui=False,
        ),
        Param(
            "world_run",
            0,
            "A finished run whose V and M are reused: only C is trained, at `temperature` (how "
            "the τ table compares temperatures in one shared world); 0 = train V and M here",
            low=0,
            high=2**31 - 1,
            in_ui=False,
        ),
        Param(
            "device",
            "cpu",
            "Where V, M and the dreams run: a CUDA GPU (cuda), one if torch finds it (auto), or "
            "the CPU; the real game always plays on the CPU",
            choices=DEVICES,
            branch=True,
        ),
        Param("seed", 0, "Random seed: a run is reproducible from its config", low=0, high=2**31 - 1),
    ),
    presets={
        "quick": {},
        "paper": {
            "device": "auto",
            "rollouts": 2000,
            "envs_at_once": 32,
            "z_size": 64,
            "vae_width": 1.0,
            "vae_epochs": 10,
            "vae_frames": 100_000,
            "rnn_hidden": 512,
            "rnn_updates": 24_000,
            "rnn_window": 128,
            "rnn_lr_final": 0.01,
            "cma_generations": 100,
            "cma_popsize": 64,
        },
        "tutorial": {
            **SMALL_GAMES,
            "env": "take_cover",
            "rollouts": 200,
            "rollout_steps": 500,
            "action_repeat": 1,
            "z_size": 16,
            "vae_width": 0.25,
            "rnn_hidden": 64,
            "rnn_updates": 1500,
            "temperature": 1.0,
            "cma_generations": 40,
            "dream_episodes": 16,
            "dream_length": 500,
            "real_eval_episodes": 20,
        },
        "cartpole": {
            **SMALL_GAMES,
            "env": "cartpole",
            "rounds": 4,
            "rollouts": 120,
            "rollout_steps": 200,
            "action_repeat": 1,
            "z_size": 16,
            "vae_width": 0.25,
            "vae_lr": 3e-3,
            "vae_epochs": 6,
            "vae_frames": 4000,
            "rnn_hidden": 128,
            "rnn_updates": 1500,
            "cma_generations": 25,
            "cma_popsize": 12,
            "dream_episodes": 8,
            "dream_length": 500,
            "temperature": 1.3,
            "taus": "1.3",
            "real_eval_episodes": 20,
        },
        "carracing": {
            **SMALL_GAMES,
            "env": "carracing",
            "rounds": 3,
            "rollouts": 500,
            "rollout_steps": 1000,
            "action_repeat": 1,
            "vae_width": 1.0,
            "vae_epochs": 10,
            "rnn_updates": 3000,
            "cma_generations": 300,
            "cma_popsize": 64,
            "dream_length": 1000,
            "temperature": 1.0,
            "taus": "1.0",
            "real_eval_episodes": 20,
        },
    },
    check=check,
)
