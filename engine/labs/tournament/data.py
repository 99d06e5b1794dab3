"""Digits and the mechanisms that transform them (Parascandolo et al. 2018, §4: MNIST, 8 shifts, inversion, noise).

scikit-learn's bundled 8x8 digits are scaled up to 16x16 and framed by a black margin as wide as the largest
shift, so a translated digit never leaves the frame. The training classes are split into disjoint parts: the
*canonical* images the discriminator learns from, the *source* images that are transformed for the experts,
and a *test* part for evaluation; no image is ever seen both canonical and transformed (no pairs). Some digit
classes are held out entirely: the transfer experiment applies the experts to digits they have never seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.nn import functional as F

from engine.labs.tournament.config import Config
from engine.labs.tournament.mechanisms import DIGIT_SIZE, TRANSLATIONS, parse_classes


def translate(images: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """Move the content of (B, 1, H, W) images by (rows, columns) pixels; what enters the frame is black."""
    padded = F.pad(images, (abs(columns),) * 2 + (abs(rows),) * 2)
    height, width = images.shape[-2:]
    top, left = abs(rows) - rows, abs(columns) - columns
    return padded[..., top : top + height, left : left + width]


def invert(images: torch.Tensor) -> torch.Tensor:
    return 1.0 - images


def add_noise(images: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=generator) * std
    return (images + noise).clamp(0.0, 1.0)


def apply_mechanism(
    name: str, images: torch.Tensor, shift: int, noise_std: float, generator: torch.Generator
) -> torch.Tensor:
    if name in TRANSLATIONS:
        rows, columns = TRANSLATIONS[name]
        return translate(images, rows * shift, columns * shift)
    if name == "invert":
        return invert(images)
    return add_noise(images, noise_std, generator)


def transform(
    images: torch.Tensor,
    mechanism_ids: torch.Tensor,
    mechanisms: list[str],
    shift: int,
    noise_std: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Each image through its own mechanism (an index into `mechanisms`)."""
    out = torch.empty_like(images)
    for index, name in enumerate(mechanisms):
        chosen = mechanism_ids == index
        if chosen.any():
            out[chosen] = apply_mechanism(name, images[chosen], shift, noise_std, generator)
    return out


@dataclass(frozen=True)
class Digits:
    canonical: torch.Tensor  # (n, 1, S, S) in [0, 1]: what the discriminator calls real
    source: torch.Tensor  # transformed on the fly for the tournament; the originals are never shown to anyone
    test: torch.Tensor  # training classes, never trained on: evaluation
    held_out: torch.Tensor  # classes never seen in training: transfer
    held_out_labels: torch.Tensor


def framed_digits(margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1797 digits as (n, 1, 16 + 2 margin, 16 + 2 margin) images in [0, 1], and their labels."""
    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    large = F.interpolate(small, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)
    return F.pad(large.clamp(0.0, 1.0), (margin,) * 4), torch.tensor(digits.target)


def load(shift: int, seed: int, held_out_classes: tuple[int, ...], test_share: float = 0.15) -> Digits:
    """Training classes split at random into canonical / source (about half each) and test; held-out classes."""
    images, labels = framed_digits(shift)
    held = torch.isin(labels, torch.tensor(held_out_classes))
    train_images = images[~held]
    order = torch.from_numpy(np.random.default_rng([seed, 7]).permutation(len(train_images)))
    n_test = int(test_share * len(order))
    n_canonical = (len(order) - n_test) // 2
    return Digits(
        canonical=train_images[order[:n_canonical]],
        source=train_images[order[n_canonical : len(order) - n_test]],
        test=train_images[order[len(order) - n_test :]],
        held_out=images[held],
        held_out_labels=labels[held],
    )


def digits_of(config: Config) -> Digits:
    """The digits a run with this config trains and evaluates on (its shift, seed and held-out classes)."""
    return load(config.shift, config.seed, parse_classes(config.held_out_classes))
