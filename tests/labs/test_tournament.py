"""The expert-tournament lab: mechanisms, the winner-only update, specialisation (the page: tests/app, tests/e2e)."""

import io

import numpy as np
import pytest
import torch

from engine.context import LocalContext
from engine.labs.tournament import data, evaluate
from engine.labs.tournament.config import SPACE
from engine.labs.tournament.mechanisms import MECHANISMS, TRANSLATIONS, parse_classes, parse_mechanisms
from engine.labs.tournament.train import Tournament, assign_winners, bench, draw_batch, from_checkpoint, train
from engine.params import ConfigError

# a tournament that runs through every stage in a few seconds
TINY = {
    "mechanisms": "N,invert,noise",
    "experts": 3,
    "shift": 2,
    "expert_width": 4,
    "expert_depth": 3,
    "disc_width": 4,
    "batch": 12,
    "pretrain_steps": 5,
    "rounds": 20,
    "report_every": 5,
    "eval_every": 10,
    "eval_images": 8,
}


def run(overrides: dict | None = None, **ctx_options) -> tuple[dict, LocalContext]:
    config = SPACE.resolve("quick", TINY | (overrides or {}))
    ctx = LocalContext(config, **ctx_options)
    return train(config, ctx), ctx


def centre_of_mass(images: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) -> (B, 2) intensity-weighted (row, column)."""
    rows, columns = torch.meshgrid(torch.arange(images.shape[-2]), torch.arange(images.shape[-1]), indexing="ij")
    mass = images[:, 0].sum(dim=(1, 2))
    return torch.stack(
        [(images[:, 0] * rows).sum(dim=(1, 2)) / mass, (images[:, 0] * columns).sum(dim=(1, 2)) / mass], dim=1
    ).numpy()


@pytest.mark.parametrize("direction", list(TRANSLATIONS))
def test_a_shift_moves_the_centre_of_mass_its_way(direction):
    shift = 3
    images = data.load(shift, 0, (8, 9)).test[:20]
    moved = data.apply_mechanism(direction, images, shift, 0.3, torch.Generator())
    expected = shift * np.array(TRANSLATIONS[direction], dtype=float)
    assert np.allclose(centre_of_mass(moved) - centre_of_mass(images), expected, atol=1e-4)
    assert torch.isclose(moved.sum(), images.sum())  # the margin is wide enough: nothing leaves the frame


def test_inversion_twice_is_the_identity_and_noise_stays_an_image():
    images = data.load(2, 0, (8, 9)).test[:20]
    assert torch.allclose(data.invert(data.invert(images)), images)
    assert not torch.allclose(data.invert(images), images)
    noisy = data.add_noise(images, 0.3, torch.Generator().manual_seed(0))
    assert 0 <= noisy.min() and noisy.max() <= 1
    assert 0.1 < (noisy - images).abs().mean() < 0.3


def test_canonical_transformed_and_test_digits_are_disjoint_and_held_out_classes_unseen():
    digits = data.load(2, 0, parse_classes("3,7"))
    flat = [part.flatten(1) for part in (digits.canonical, digits.source, digits.test)]
    for a in range(3):
        for b in range(a + 1, 3):
            assert torch.cdist(flat[a], flat[b]).min() > 0  # no image in two parts
    assert set(digits.held_out_labels.tolist()) == {3, 7}
    assert sum(len(p) for p in flat) + len(digits.held_out) == 1797
    assert abs(len(digits.canonical) - len(digits.source)) <= 1
    assert digits.canonical.shape[1:] == (1, 20, 20)


def test_a_batch_has_every_mechanism_equally_often():
    config = SPACE.typed(SPACE.resolve("quick", TINY))
    source = data.load(2, 0, (8, 9)).source
    _, ids = draw_batch(
        source, ["N", "invert", "noise"], config.batch, config.shift, config.noise_std, torch.Generator().manual_seed(1)
    )
    assert np.bincount(ids.numpy()).tolist() == [4, 4, 4]


def test_winner_rules():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0]])  # expert 0 is best on every example
    assert assign_winners(scores, "argmax", 1.0).tolist() == [0, 0, 0, 0]
    assert assign_winners(scores, "balanced", 1.0).tolist() == [0, 0, 1, 1]  # capacity 4/2: its two best
    assert assign_winners(scores, "balanced", 1.5).tolist() == [0, 0, 0, 1]


def test_the_winner_only_update_touches_only_the_winners_parameters():
    config = SPACE.typed(SPACE.resolve("quick", TINY | {"experts": 8, "batch": 4, "winner_rule": "argmax"}))
    torch.manual_seed(0)
    tournament = Tournament(config, 20)
    before = [[p.detach().clone() for p in expert.parameters()] for expert in tournament.experts]
    source = data.load(2, 0, (8, 9)).source
    transformed, _ = draw_batch(source, ["N", "invert", "noise"], 4, config.shift, config.noise_std, torch.Generator())
    winners, _ = tournament.play_round(transformed, data.load(2, 0, (8, 9)).canonical[:4])
    changed = {
        j
        for j, expert in enumerate(tournament.experts)
        if any(not torch.equal(a, b) for a, b in zip(before[j], expert.parameters(), strict=True))
    }
    assert changed == set(winners.tolist()) and len(changed) <= 4  # so at least 4 experts must stay untouched


def test_config_rejects_unknown_mechanisms_and_experts_that_cannot_reach_the_shift():
    with pytest.raises(ConfigError, match="mechanisms"):
        SPACE.resolve("quick", {"mechanisms": "N,spin"})
    with pytest.raises(ConfigError, match="expert_depth"):
        SPACE.resolve("quick", {"shift": 5, "expert_depth": 4})
    for classes in ("8,8", "eight", "10", "0,1,2,3,4,5,6,7,8", ""):
        with pytest.raises(ConfigError, match="held_out_classes"):
            SPACE.resolve("quick", {"held_out_classes": classes})
    assert parse_mechanisms("all") == list(MECHANISMS)


def test_ownership_counts_distinct_experts_once():
    wins = np.array([[95, 5, 0], [0, 100, 0], [0, 92, 8], [50, 0, 50]])
    owners = evaluate.ownership(wins, owned_share=0.9)
    assert owners["owned"].tolist() == [True, True, True, False]
    assert evaluate.ownership(wins, owned_share=0.93)["owned"].tolist() == [True, True, False, False]
    assert owners["distinct_owners"] == 2  # expert 1 owns two mechanisms: one owner


def test_a_short_tournament_specialises_experts():
    summary, _ = run(
        {
            "rounds": 150,
            "batch": 30,
            "pretrain_steps": 30,
            "eval_every": 150,
            "eval_images": 40,
            "expert_width": 8,
            "disc_width": 8,
            "lr_expert": 3e-3,
        }
    )
    report = summary["test"]
    assert report["mechanisms_owned_by_distinct_experts"] >= 2
    for mechanism in report["per_mechanism"].values():
        if mechanism["owned"]:
            assert mechanism["winner_error"] < mechanism["identity_error"]


def test_snapshots_metrics_and_checkpoint_have_the_documented_format():
    summary, ctx = run()
    step, wins = ctx.snapshots["wins"]
    assert step == 20 and wins["rounds"].tolist() == [5, 10, 15, 20]
    assert wins["shares"].shape == (4, 3, 3) and np.allclose(wins["shares"].sum(axis=2), 1)
    assert wins["counts"].sum() == 5 * 12  # the last frame's rounds
    _, test = ctx.snapshots["test"]
    assert test["error"].shape == test["wins"].shape == test["realness"].shape == (3, 3)
    assert test["wins"].sum() == 3 * 8 and test["outputs"].shape == (3, 4, 3, 20, 20)
    assert [s for s, _ in ctx.metrics["owned"]] == [10, 20]
    assert summary["stopped"] == 0.0 and set(summary["transfer"]["per_mechanism"]) == {"N", "invert", "noise"}

    buffer = io.BytesIO()
    torch.save(ctx.checkpoints[-1], buffer)
    buffer.seek(0)
    restored = from_checkpoint(torch.load(buffer, weights_only=True))
    images = data.load(2, 0, (8, 9)).test[:3]
    assert torch.equal(restored.experts[1](images), from_checkpoint(ctx.checkpoints[-1]).experts[1](images))


def test_stop_ends_cleanly_and_a_run_is_reproducible():
    summary, ctx = run({"rounds": 1000}, stop_after_polls=TINY["pretrain_steps"] + 3)
    assert summary["stopped"] == 1.0 and summary["rounds_done"] == 3 and ctx.checkpoints
    first, _ = run()
    second, _ = run()
    assert first["test"] == second["test"]


class LearningRatesToZero(LocalContext):
    """Simulates a user dragging both learning-rate sliders to zero as the tournament starts."""

    def poll(self) -> bool:
        if self.polls >= TINY["pretrain_steps"]:
            self.params["lr_expert"] = self.params["lr_discriminator"] = 0.0
        return super().poll()


def test_live_learning_rates_reach_the_optimizers():
    config = SPACE.resolve("quick", TINY | {"eval_every": 1})
    frozen = LearningRatesToZero(config)
    train(config, frozen)
    first, last = frozen.checkpoints[0], frozen.checkpoints[-1]
    assert all(torch.equal(first["discriminator"][k], last["discriminator"][k]) for k in first["discriminator"])
    assert all(torch.equal(a[k], b[k]) for a, b in zip(first["experts"], last["experts"], strict=True) for k in a)


def test_bench_reports_ownership_and_errors():
    config = SPACE.resolve("quick", TINY)
    result = bench(config, LocalContext(config))
    assert result["rounds"] == 20
    for part in ("test", "held_out_classes"):
        assert 0 <= result[part]["mechanisms_owned_by_distinct_experts"] <= 3
        for mechanism in result[part]["per_mechanism"].values():
            assert {"winner", "winner_share", "owned", "winner_error", "identity_error"} <= set(mechanism)
