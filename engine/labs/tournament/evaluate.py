"""The tournament replayed on digits no one trained on: who wins each mechanism, and how well each expert undoes it.

Every mechanism is applied to the same held-out images; every expert's output is scored by the discriminator and
the best-scored expert wins (the paper's rule, no capacity limit). The mechanism labels, hidden during training,
are used here only to count. Errors are mean squared errors per pixel against the clean original; "doing
nothing" is the error of the transformed image itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.labs.tournament.data import apply_mechanism
from engine.labs.tournament.models import Discriminator, Expert

EVAL_STREAM = 1  # the noise of evaluation examples comes from its own stream, the same at every evaluation


@torch.no_grad()
def outputs_and_scores(
    experts: list[Expert], discriminator: Discriminator, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every expert on every image: outputs (N, B, 1, S, S) and discriminator logits (N, B)."""
    outputs = torch.stack([expert(images) for expert in experts])
    scores = discriminator(outputs.flatten(0, 1)).view(len(experts), len(images))
    return outputs, scores


def cross_application(
    experts: list[Expert],
    discriminator: Discriminator,
    clean: torch.Tensor,
    mechanisms: list[str],
    shift: int,
    noise_std: float,
    seed: int,
    samples: int = 1,
) -> dict[str, np.ndarray]:
    """Each expert applied to each mechanism's data (M mechanisms, N experts).

    wins (M, N): examples each expert wins; error (M, N): each expert's error against the clean original;
    realness (M, N): mean discriminator probability of its outputs; winner_error / identity_error (M,): the
    error of the winning outputs and of doing nothing. The first `samples` images of each mechanism are kept
    for the sample grid: inputs (M, k, S, S), outputs (M, k, N, S, S), winners (M, k), clean (k, S, S).
    """
    generator = torch.Generator().manual_seed(seed * 1000 + EVAL_STREAM)
    m, n = len(mechanisms), len(experts)
    result = {key: np.zeros((m, n)) for key in ("wins", "error", "realness")}
    result |= {"winner_error": np.zeros(m), "identity_error": np.zeros(m)}
    inputs, outputs_kept, winners_kept = [], [], []
    for row, name in enumerate(mechanisms):
        transformed = apply_mechanism(name, clean, shift, noise_std, generator)
        outputs, scores = outputs_and_scores(experts, discriminator, transformed)
        winners = scores.argmax(dim=0)
        errors = (outputs - clean).pow(2).mean(dim=(2, 3, 4))  # (N, B)
        result["wins"][row] = np.bincount(winners.numpy(), minlength=n)
        result["error"][row] = errors.mean(dim=1).numpy()
        result["realness"][row] = torch.sigmoid(scores).mean(dim=1).numpy()
        result["winner_error"][row] = errors.gather(0, winners[None]).mean().item()
        result["identity_error"][row] = (transformed - clean).pow(2).mean().item()
        inputs.append(transformed[:samples, 0])
        outputs_kept.append(outputs[:, :samples, 0].transpose(0, 1))
        winners_kept.append(winners[:samples])
    result["inputs"] = torch.stack(inputs).numpy()
    result["outputs"] = torch.stack(outputs_kept).numpy()
    result["winners"] = torch.stack(winners_kept).numpy()
    result["clean"] = clean[:samples, 0].numpy()
    return result


def win_shares(wins: np.ndarray) -> np.ndarray:
    """A (mechanisms, experts) win-count matrix as each expert's share of each mechanism's examples."""
    return wins / np.maximum(wins.sum(axis=1, keepdims=True), 1)


def ownership(wins: np.ndarray, owned_share: float) -> dict[str, Any]:
    """From a (mechanisms, experts) win-count matrix: each mechanism's top expert, its share, and how many
    mechanisms are owned (top share >= owned_share) by distinct experts (one expert owning two counts once)."""
    top = wins.argmax(axis=1)
    share = win_shares(wins).max(axis=1)
    owned = share >= owned_share
    return {"top_expert": top, "top_share": share, "owned": owned, "distinct_owners": len(set(top[owned].tolist()))}


def report(result: dict[str, np.ndarray], mechanisms: list[str], owned_share: float) -> dict[str, Any]:
    """The bench's JSON figures from one cross-application."""
    owners = ownership(result["wins"], owned_share)
    per_mechanism = {
        name: {
            "winner": int(owners["top_expert"][row]),
            "winner_share": round(float(owners["top_share"][row]), 3),
            "owned": bool(owners["owned"][row]),
            "winner_error": round(float(result["winner_error"][row]), 4),
            "identity_error": round(float(result["identity_error"][row]), 4),
        }
        for row, name in enumerate(mechanisms)
    }
    return {
        "mechanisms_owned_by_distinct_experts": owners["distinct_owners"],
        "mean_winner_error": round(float(result["winner_error"].mean()), 4),
        "mean_identity_error": round(float(result["identity_error"].mean()), 4),
        "per_mechanism": per_mechanism,
    }
