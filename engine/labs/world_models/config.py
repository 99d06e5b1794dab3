"""Every hyperparameter of the World Models lab, one line each (type, default, bounds), its help in the line under it.
The defaults are the Doom quick preset: the whole pipeline and the τ table in about 20 minutes on two cores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.labs.world_models.facts import DEATH_RULES, DEATH_TARGETS, DOOM_SKILLS, ENVS, GAMES, TABLE_TAUS
from engine.params import ConfigError, ParamSpace, param

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


@dataclass(frozen=True)
class Config:
    env: str = param("doom", choices=ENVS)
    """Real game: DoomTakeCover (ViZDoom, the paper's), a seconds-fast take-cover tutorial game, CartPole from
    pixels, or CarRacing (needs gymnasium[box2d])"""
    doom_skill: int = param(4, low=DOOM_SKILLS[0], high=DOOM_SKILLS[1])
    """Doom's difficulty: 4 is the scenario's own (the paper's); 5 makes fireballs deadlier"""
    rounds: int = param(1, low=1, high=10)
    """Iterations of collect -> train V -> train M -> train C (the paper's section 5)"""
    rollouts: int = param(500, low=2, high=10_000)
    """Real episodes collected per round (random actions in round 1, then the controller)"""
    rollout_steps: int = param(2100, low=10, high=2100)
    """Longest collected episode, in steps"""
    envs_at_once: int = param(16, low=1, high=64)
    """Real games played in lockstep while collecting and scoring: V and M see their frames as one batch per step
    (more: faster, more memory; random actions are drawn per slot)"""
    action_repeat: int = param(30, low=1, high=50)
    """The random policy holds each action for 1 to this many steps (the paper: 1-10; longer holds show M long
    sweeps across the room)"""
    exploration: float = param(0.1, low=0.0, high=1.0, branch=True)
    """Chance of a random action at each collected step once a controller exists"""
    z_size: int = param(32, low=2, high=128)
    """Size of V's latent code z (the paper: 64)"""
    vae_width: float = param(0.5, low=0.0625, high=2.0)
    """V's channel multiplier: 1 = the paper's 32/64/128/256 convolutions"""
    vae_epochs: int = param(24, low=1, high=100)
    """Passes of V over the collected frames per round"""
    vae_frames: int = param(8000, low=100, high=1_000_000)
    """Most frames V sees per epoch, a fresh random subset of all collected each time"""
    vae_batch: int = param(32, low=1, high=1024)
    """Frames per V update"""
    vae_lr: float = param(1e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """V's Adam learning rate"""
    free_bits: float = param(0.5, low=0.0, high=10.0)
    """KL below this many nats per latent dimension is free (the paper's KL tolerance)"""
    salience: float = param(10.0, low=0.0, high=100.0)
    """How much more V's loss counts pixels unlike the average frame: 1 + this x their difference (0: all alike,
    the paper; Doom's fireballs are 0.2 % of a frame)"""
    rnn_hidden: int = param(256, low=4, high=1024)
    """LSTM units of M: the memory h the controller also reads (the paper: 512)"""
    mdn_components: int = param(5, low=1, high=10)
    """Gaussians in M's mixture for each latent dimension"""
    rnn_updates: int = param(4000, low=1, high=1_000_000)
    """M's Adam updates per round, each on rnn_batch random windows of the collected episodes"""
    rnn_window: int = param(64, low=2, high=2100)
    """Steps in each of M's training windows"""
    mirror: int = param(0, low=0, high=1)
    """1: M also learns every episode in a mirror, frames flipped and left and right swapped (the game's room is
    symmetric: as many hits again, and no side safer than the other); 0: as collected"""
    rnn_batch: int = param(16, low=1, high=1024)
    """Windows per M update"""
    rnn_posterior: float = param(1.0, low=0.0, high=1.0)
    """Spread of V's posterior that M's training codes are drawn with: 1 = sampled as in the paper (M learns V's
    uncertainty too), 0 = V's means"""
    rnn_grad_clip: float = param(1.0, low=0.01, high=100.0)
    """Largest gradient norm of one M update (the paper clips at 1)"""
    rnn_lr: float = param(1e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """M's Adam learning rate at its first update"""
    rnn_lr_final: float = param(0.01, low=1e-4, high=1.0, log_scale=True)
    """M's learning rate decays geometrically to this fraction of rnn_lr by its last update (the paper's code:
    1e-3 to 1e-5)"""
    death_weight: float = param(10.0, low=1.0, high=1000.0)
    """Each death step counts this many times in M's death loss (deaths are one step in hundreds); the dream
    divides the odds back out"""
    death_target: str = param("hit", choices=DEATH_TARGETS)
    """What ends a dream: M's prediction of a death (the paper), or of any fireball hit (Doom: a death follows
    1-3 hits, so a dream that ends at the first is stricter than the game)"""
    death_horizon: int = param(0, low=0, high=100)
    """Steps before a death that M also learns to call deadly (0: the death step only)"""
    death_rule: str = param("sample", choices=DEATH_RULES, branch=True)
    """How a dream dies: drawn with M's probability, or when M's weighted output passes death_threshold (the
    paper's cut-off)"""
    death_threshold: float = param(0.9, low=0.01, high=0.99, branch=True)
    """The cut-off rule ends a dream when M's weighted P(death) passes this (the paper: one half)"""
    temperature: float = param(1.15, low=MIN_TEMPERATURE, high=MAX_TEMPERATURE, live=True)
    """Dream temperature tau: mixture logits / tau, sigma * sqrt(tau); takes effect at the next CMA-ES generation"""
    cma_generations: int = param(28, low=1, high=10_000, branch=True)
    """CMA-ES generations for the controller per round"""
    cma_popsize: int = param(16, low=4, high=256)
    """Controllers per CMA-ES generation (the paper: 64)"""
    cma_sigma: float = param(0.1, low=0.001, high=10.0)
    """Initial CMA-ES step size around a zero controller (the paper's code: 0.1)"""
    dream_episodes: int = param(16, low=1, high=256, branch=True)
    """Dreams per controller per generation, the same for every candidate: its fitness is their mean return (the
    paper: 16)"""
    held_out_dreams: int = param(16, low=1, high=256, branch=True)
    """Dreams, unseen by the search, that score the search's mean each generation: C is the best mean so far"""
    dream_length: int = param(2100, low=10, high=5000, branch=True)
    """Longest dream, in steps (Doom's time limit)"""
    real_eval_episodes: int = param(100, low=1, high=1000, branch=True)
    """Real episodes that score a controller (and the random policy)"""
    probe_episodes: int = param(40, low=0, high=500)
    """Held-out random episodes the probe starts from (a state before each one's first hit, and one anywhere); 0:
    no probe"""
    probe_horizon: int = param(35, low=1, high=500)
    """Steps each behaviour is held from a probe state, in the game and in the dream"""
    probe_lead: int = param(20, low=1, high=500)
    """The probe's near-hit states come this many steps before a real hit"""
    pictures_steps: int = param(25, low=1, high=500)
    """The second probe (does the dream show where you went?): steps left and right are each held, in the game
    and in the dream, from a real start after 20 steps of each held-out episode"""
    probe_dreams: int = param(16, low=1, high=1024, branch=True)
    """Dreams per probe state, behaviour and τ: M's odds are their mean"""
    taus: str = param(",".join(f"{tau:g}" for tau in TABLE_TAUS), in_ui=False)
    """Comma-separated temperatures that `bench` trains a controller at, each scored in its dream and in the real
    game"""
    world_run: int = param(0, low=0, high=2**31 - 1, in_ui=False)
    """A finished run whose V and M are reused: only C is trained, at `temperature` (how the τ table compares
    temperatures in one shared world); 0 = train V and M here"""
    device: str = param("cpu", choices=DEVICES, branch=True)
    """Where V, M and the dreams run: a CUDA GPU (cuda), one if torch finds it (auto), or the CPU; the real game
    always plays on the CPU"""
    seed: int = param(0, low=0, high=2**31 - 1)
    """Random seed: a run is reproducible from its config"""

    def __post_init__(self) -> None:
        parse_taus(self.taus)


def data_memory_mb(values: dict[str, Any]) -> float:
    """What a run allocates beyond torch, at its peak, in MB: every round's collected 64×64 frames (kept for V and M
    throughout), plus the largest of its stages' working sets — a V batch with its activations and gradients, an M
    batch of windows with the LSTM's and the mixture's per-step values kept for backpropagation, and the probe's
    dreams (every probe state × behaviour × dream, each carrying M's state and mixture). A τ-table job reuses a
    world: it collects nothing, but still dreams and probes."""
    config = SPACE.typed(values)
    game = GAMES[config.env]
    pixels = 64 * 64 * game.channels
    steps = min(config.rollout_steps, game.expected_steps) + 1
    frames = 0 if config.world_run else config.rounds * config.rollouts * steps * pixels
    hidden, mixture = config.rnn_hidden, 3 * config.mdn_components * config.z_size
    v_batch = config.vae_batch * pixels * 4 * 24  # float frames; the conv stack's activations and gradients
    m_batch = config.rnn_batch * config.rnn_window * (10 * hidden + 2 * mixture) * 4
    probe_rows = 2 * config.probe_episodes * len(game.actions) * config.probe_dreams
    probe = probe_rows * (3 * hidden + config.z_size + mixture) * 4
    return 100.0 + (frames + max(v_batch, m_batch, probe)) / 2**20


# the small games' V weighs every pixel alike, as measured before salience existed (their objects are much of a frame)
SMALL_GAMES = {"salience": 0.0}

SPACE = ParamSpace.of(
    Config,
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
)
