"""Every hyperparameter of the expert-tournament lab: default, bounds, one line of help."""

from __future__ import annotations

from engine.labs.tournament.mechanisms import DIGIT_SIZE, parse_classes, parse_mechanisms
from engine.params import ConfigError, Param, ParamSpace

WINNER_RULES = ("argmax", "balanced")


def receptive_radius(depth: int) -> int:
    """Pixels an expert's output can see away from its own position, along each axis (models.Expert: `depth`
    3x3 convolutions)."""
    return depth


def check(config: dict) -> None:
    try:
        parse_mechanisms(config["mechanisms"])
    except ValueError as error:
        raise ConfigError(f"mechanisms: {error}") from None
    try:
        parse_classes(config["held_out_classes"])
    except ValueError as error:
        raise ConfigError(f"held_out_classes: {error}") from None
    if receptive_radius(config["expert_depth"]) < config["shift"]:
        raise ConfigError(
            f"expert_depth: {config['expert_depth']} layers of 3x3 convolutions see "
            f"{receptive_radius(config['expert_depth'])} px around a pixel, too few to undo a "
            f"{config['shift']} px shift"
        )


SPACE = ParamSpace(
    params=(
        Param(
            "mechanisms",
            "all",
            "Comma-separated mechanisms that transform the digits (N, NE, E, SE, S, SW, W, "
            "NW: translations; invert; noise), or 'all'",
        ),
        Param("experts", 10, "Number of competing experts", low=1, high=16),
        Param(
            "shift",
            3,
            f"Pixels a translation moves a {DIGIT_SIZE}x{DIGIT_SIZE} digit (the frame's margin is as wide)",
            low=1,
            high=6,
        ),
        Param("noise_std", 0.3, "Standard deviation of the additive-noise mechanism", low=0.05, high=1.0),
        Param("expert_width", 8, "Channels of each expert's convolutions", low=2, high=64),
        Param("expert_depth", 3, "3x3 convolutions per expert (its reach must cover the shift)", low=2, high=8),
        Param("disc_width", 16, "Channels of the discriminator's first convolution (doubling after)", low=2, high=64),
        Param(
            "batch",
            60,
            "Transformed examples per round (and canonical images per discriminator step)",
            low=4,
            high=1024,
            branch=True,
        ),
        Param(
            "pretrain_steps",
            60,
            "Steps pre-training every expert towards the identity on transformed data",
            low=0,
            high=10_000,
        ),
        Param(
            "rounds",
            1200,
            "Tournament rounds: one batch of transformed examples each",
            low=1,
            high=100_000,
            branch=True,
        ),
        Param(
            "winner_rule",
            "argmax",
            "argmax: the paper's rule, the best-scored expert wins each example; "
            "balanced: the same, but no expert may win more than `capacity` times its fair share of a round",
            choices=WINNER_RULES,
            branch=True,
        ),
        Param(
            "capacity",
            1.0,
            "With the balanced rule: the most examples one expert may win in a round, as a multiple of batch / experts",
            low=1.0,
            high=10.0,
            branch=True,
        ),
        Param(
            "losers_are_fakes",
            False,
            "Train the discriminator on every expert's output as fake, not only the "
            "winners' (the paper: only the winners')",
            branch=True,
        ),
        Param(
            "disc_beta1",
            0.5,
            "Adam's first-moment decay for the discriminator (0.5 as in DCGAN: a quicker "
            "judge of a moving target; Adam's own default is 0.9)",
            low=0.0,
            high=0.99,
        ),
        Param("lr_expert", 1e-3, "Adam learning rate of the experts", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param(
            "lr_discriminator",
            1e-3,
            "Adam learning rate of the discriminator",
            low=1e-5,
            high=1e-1,
            live=True,
            log_scale=True,
        ),
        Param("report_every", 10, "Rounds between two frames of the live win matrix", low=1, high=10_000, branch=True),
        Param(
            "eval_every",
            200,
            "Rounds between evaluations on held-out digits (cross-application, transfer)",
            low=1,
            high=100_000,
            branch=True,
        ),
        Param(
            "eval_images",
            100,
            "Test digits (and held-out-class digits) each evaluation transforms by every mechanism",
            low=4,
            high=400,
            branch=True,
        ),
        Param(
            "held_out_classes",
            "8,9",
            "Digit classes never trained on: the transfer experiment applies the experts to them",
        ),
        Param(
            "owned_share",
            0.9,
            "A mechanism is owned by the expert that wins at least this share of its test "
            "digits (the figure the bench reports)",
            low=0.5,
            high=1.0,
            branch=True,
        ),
        Param("seed", 0, "Random seed: a run is reproducible from its config", low=0, high=2**31 - 1),
    ),
    presets={
        "quick": {},
        "paper": {
            "expert_width": 32,
            "disc_width": 16,
            "rounds": 5000,
            "pretrain_steps": 500,
            "eval_every": 500,
            "report_every": 25,
        },
    },
    check=check,
)
