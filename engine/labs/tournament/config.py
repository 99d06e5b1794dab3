"""Every hyperparameter of the expert-tournament lab, one line each (type, default, bounds), its help in the line under
it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.labs.tournament.mechanisms import parse_classes, parse_mechanisms
from engine.params import ConfigError, ParamSpace, param

WINNER_RULES = ("argmax", "balanced")


def receptive_radius(depth: int) -> int:
    """Pixels an expert's output can see away from its own position, along each axis (models.Expert: `depth`
    3x3 convolutions)."""
    return depth


@dataclass(frozen=True)
class Config:
    mechanisms: str = param("all")
    """Comma-separated mechanisms that transform the digits (N, NE, E, SE, S, SW, W, NW: translations; invert; noise),
    or 'all'"""
    experts: int = param(12, low=1, high=16)
    """Number of competing experts; two more than the ten mechanisms, so that an idle expert can take over a
    mechanism that two neighbouring shifts share (the paper: with fewer experts than mechanisms some must share)"""
    shift: int = param(3, low=1, high=6)
    """Pixels a translation moves a 16x16 digit (the frame's margin is as wide)"""
    noise_std: float = param(0.3, low=0.05, high=1.0)
    """Standard deviation of the additive-noise mechanism"""
    expert_width: int = param(8, low=2, high=64)
    """Channels of each expert's convolutions"""
    expert_depth: int = param(4, low=2, high=8)
    """3x3 convolutions per expert (its reach must cover the shift); 4, the paper's, owns 9.2 of 10 mechanisms over 5
    seeds where 3 owned 8.8 (docs/results.md)"""
    disc_width: int = param(16, low=2, high=64)
    """Channels of the discriminator's first convolution (doubling after)"""
    batch: int = param(60, low=4, high=1024, branch=True)
    """Transformed examples per round (and canonical images per discriminator step)"""
    pretrain_steps: int = param(60, low=0, high=10_000)
    """Steps pre-training every expert towards the identity on transformed data"""
    rounds: int = param(1200, low=1, high=100_000, branch=True)
    """Tournament rounds: one batch of transformed examples each"""
    winner_rule: str = param("argmax", choices=WINNER_RULES, branch=True)
    """argmax: the paper's rule, the best-scored expert wins each example; balanced: the same, but no expert may win
    more than `capacity` times its fair share of a round"""
    capacity: float = param(1.0, low=1.0, high=10.0, branch=True)
    """With the balanced rule: the most examples one expert may win in a round, as a multiple of batch / experts"""
    losers_are_fakes: bool = param(False, branch=True)
    """Train the discriminator on every expert's output as fake, not only the winners' (the paper: only the winners')"""
    disc_beta1: float = param(0.5, low=0.0, high=0.99)
    """Adam's first-moment decay for the discriminator (0.5 as in DCGAN: a quicker judge of a moving target; Adam's own
    default is 0.9)"""
    lr_expert: float = param(1e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """Adam learning rate of the experts"""
    lr_discriminator: float = param(1e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """Adam learning rate of the discriminator"""
    report_every: int = param(10, low=1, high=10_000, branch=True)
    """Rounds between two frames of the live win matrix"""
    eval_every: int = param(200, low=1, high=100_000, branch=True)
    """Rounds between evaluations on held-out digits (cross-application, transfer)"""
    eval_images: int = param(100, low=4, high=400, branch=True)
    """Test digits (and held-out-class digits) each evaluation transforms by every mechanism"""
    held_out_classes: str = param("8,9")
    """Digit classes never trained on: the transfer experiment applies the experts to them"""
    owned_share: float = param(0.9, low=0.5, high=1.0, branch=True)
    """A mechanism is owned by the expert that wins at least this share of its test digits (the figure the bench
    reports)"""
    seed: int = param(0, low=0, high=2**31 - 1)
    """Random seed: a run is reproducible from its config"""

    def __post_init__(self) -> None:
        try:
            parse_mechanisms(self.mechanisms)
        except ValueError as error:
            raise ConfigError(f"mechanisms: {error}") from None
        try:
            parse_classes(self.held_out_classes)
        except ValueError as error:
            raise ConfigError(f"held_out_classes: {error}") from None
        if receptive_radius(self.expert_depth) < self.shift:
            raise ConfigError(
                f"expert_depth: {self.expert_depth} layers of 3x3 convolutions see "
                f"{receptive_radius(self.expert_depth)} px around a pixel, too few to undo a {self.shift} px shift"
            )


SPACE = ParamSpace.of(
    Config,
    presets={
        "quick": {},
        "paper": {
            "experts": 10,
            "expert_width": 32,
            "disc_width": 16,
            "rounds": 5000,
            "pretrain_steps": 500,
            "eval_every": 500,
            "report_every": 25,
        },
    },
)
