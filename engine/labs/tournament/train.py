"""The tournament of Parascandolo, Kilbertus, Rojas-Carulla & Schölkopf (ICML 2018), Algorithm 1.

Experts E_1..E_N start as (pre-trained) identities. Each round draws a batch of transformed digits x' (the
mechanism hidden), and every expert proposes E_j(x'). The discriminator D scores each proposal; per example
the best-scored expert j* = argmax_j D(E_j(x')) wins, and only winners learn, each on the examples it won, to
raise its score (`expert_step`). D learns to tell canonical digits from the experts' proposals
(`discriminator_step`). Being trained only where it already is best, an expert drifts towards the inverse of
one mechanism and away from the others: the experts specialise.

Two settings decide whether the paper's argmax rule specialises every expert, measured with ten experts of three
convolutions (1200 rounds, one thread, seeds 0 / 1 / 2; the quick preset's twelve of four: docs/results.md):
- `losers_are_fakes=False` (the paper's Algorithm 1): D learns only from the winners' proposals. This is what lets a
  merge come apart. An expert that partly undoes two neighbouring shifts (W and NW, say) shows D its compromise,
  which D learns to call fake, while a loser's output, a near-identity of the raw digit, is never shown as fake;
  so an idle expert starts winning some of those digits, learns from them, and takes the mechanism over (seed 0:
  W split from NW around round 600). 9 / 8 / 8 of 10 mechanisms owned by distinct experts. With the losers also
  fake, the idle experts are judged fake as well and never win: 8 / 7 of 10, still 8 at 800 rounds. Neither the
  learning rates, the batch, nor longer or shorter identity pre-training split the remaining pair (S with SE).
- `winner_rule="balanced"`, kept as an option, caps the examples one expert may win per round at its fair share,
  so a merge cannot persist: 10 of 10. Evaluation always uses the paper's argmax, without a cap.
Each round also holds every mechanism equally often (`draw_batch`), so a fair share is one mechanism's worth.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from engine.context import Stopped, random_state, restore_random_state
from engine.labs.tournament import data, evaluate
from engine.labs.tournament.config import SPACE, Config
from engine.labs.tournament.mechanisms import DIGIT_SIZE, parse_mechanisms
from engine.labs.tournament.models import Discriminator, Expert

if TYPE_CHECKING:
    from engine.context import Context

PRETRAIN_SHARE = 0.1  # of the progress bar


def assign_winners(scores: torch.Tensor, rule: str, capacity: float) -> torch.Tensor:
    """(N experts, B examples) scores -> (B,) index of the winning expert of each example.

    argmax: j* = argmax_j score[j, b]. balanced: the highest remaining (expert, example) score is matched first,
    and an expert that has won ceil(capacity * B / N) examples this round takes no more.
    """
    if rule == "argmax":
        return scores.argmax(dim=0)
    experts, batch = scores.shape
    limit = math.ceil(capacity * batch / experts)
    winners = torch.full((batch,), -1, dtype=torch.long)
    load = [0] * experts
    for flat in scores.flatten().argsort(descending=True).tolist():
        expert, example = divmod(flat, batch)
        if winners[example] < 0 and load[expert] < limit:
            winners[example] = expert
            load[expert] += 1
    return winners


def realness_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """-log D(x) for real, -log(1 - D(x)) for fake, D = sigmoid(logit)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def expert_step(
    expert: Expert, optimizer: torch.optim.Optimizer, discriminator: Discriminator, won: torch.Tensor
) -> float:
    """One step of an expert on the examples it won: max log D(E(x')) (the non-saturating GAN loss)."""
    loss = realness_loss(discriminator(expert(won)), real=True)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def discriminator_step(
    discriminator: Discriminator, optimizer: torch.optim.Optimizer, canonical: torch.Tensor, proposals: torch.Tensor
) -> float:
    """max log D(x) + log(1 - D(E(x'))): canonical digits are real, the experts' proposals fake."""
    loss = realness_loss(discriminator(canonical), real=True) + realness_loss(discriminator(proposals), real=False)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def pretrain_identity(
    experts: list[Expert],
    source: torch.Tensor,
    mechanisms: list[str],
    config: Config,
    generator: torch.Generator,
    ctx: Context,
) -> None:
    """Every expert towards E(x') = x' on transformed data (mean squared error), so that the tournament starts
    from N near-identities and none is won by accident of its initialisation."""
    optimizers = [torch.optim.Adam(expert.parameters(), lr=ctx.live(config).lr_expert) for expert in experts]
    for step in range(config.pretrain_steps):
        ctx.keep_going()
        transformed, _ = draw_batch(source, mechanisms, config.batch, config.shift, config.noise_std, generator)
        for expert, optimizer in zip(experts, optimizers, strict=True):
            loss = F.mse_loss(expert(transformed), transformed)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        ctx.progress(PRETRAIN_SHARE * (step + 1) / config.pretrain_steps, "pre-training to identity")


def draw_batch(
    source: torch.Tensor,
    mechanisms: list[str],
    batch: int,
    shift: int,
    noise_std: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of source digits, each through a mechanism; every mechanism equally often (up to the remainder of
    batch / mechanisms), in random order. Returns the images and their mechanism ids (hidden from the experts)."""
    index = torch.randint(len(source), (batch,), generator=generator)
    mechanism_ids = torch.arange(batch) % len(mechanisms)
    mechanism_ids = mechanism_ids[torch.randperm(batch, generator=generator)]
    images = data.transform(source[index], mechanism_ids, mechanisms, shift, noise_std, generator)
    return images, mechanism_ids


class Tournament:
    """The experts, the discriminator, their optimizers, and one round of competition."""

    def __init__(self, config: Config, size: int):
        self.config = config
        self.experts = [Expert(config.expert_width, config.expert_depth) for _ in range(config.experts)]
        self.discriminator = Discriminator(config.disc_width, size)
        self.expert_optimizers = [torch.optim.Adam(e.parameters(), lr=config.lr_expert) for e in self.experts]
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.lr_discriminator, betas=(config.disc_beta1, 0.999)
        )

    def set_learning_rates(self, lr_expert: float, lr_discriminator: float) -> None:
        for optimizer in self.expert_optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr_expert
        for group in self.discriminator_optimizer.param_groups:
            group["lr"] = lr_discriminator

    def play_round(self, transformed: torch.Tensor, canonical: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Score every proposal, train each winner on what it won, then the discriminator. Returns the winners."""
        outputs, scores = evaluate.outputs_and_scores(self.experts, self.discriminator, transformed)
        winners = assign_winners(scores, self.config.winner_rule, self.config.capacity)
        expert_losses = [
            expert_step(expert, optimizer, self.discriminator, transformed[winners == j])
            for j, (expert, optimizer) in enumerate(zip(self.experts, self.expert_optimizers, strict=True))
            if (winners == j).any()
        ]
        if self.config.losers_are_fakes:
            proposals = outputs.flatten(0, 1)
        else:
            proposals = outputs[winners, torch.arange(len(winners))]
        d_loss = discriminator_step(self.discriminator, self.discriminator_optimizer, canonical, proposals)
        stats = {
            "expert_loss": float(np.mean(expert_losses)),
            "discriminator_loss": d_loss,
            "winner_realness": torch.sigmoid(scores.max(dim=0).values).mean().item(),
        }
        return winners, stats

    def state(self, wins: dict[str, np.ndarray]) -> dict[str, Any]:
        """Every state_dict, the config, and the win history so far (so a checkpoint alone can show how the experts
        came to specialise); the optimizers' moments too (a resumed run continues with them)."""
        return {
            "experts": [e.state_dict() for e in self.experts],
            "discriminator": self.discriminator.state_dict(),
            "config": asdict(self.config),
            "wins": {k: torch.from_numpy(v) for k, v in wins.items()},
            "expert_optimizers": [o.state_dict() for o in self.expert_optimizers],
            "discriminator_optimizer": self.discriminator_optimizer.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        for module, weights in [
            *zip(self.experts, state["experts"], strict=True),
            *zip(self.expert_optimizers, state["expert_optimizers"], strict=True),
            (self.discriminator, state["discriminator"]),
            (self.discriminator_optimizer, state["discriminator_optimizer"]),
        ]:
            module.load_state_dict(weights)


def from_checkpoint(state: dict[str, Any]) -> Tournament:
    config = SPACE.typed(state["config"])
    tournament = Tournament(config, DIGIT_SIZE + 2 * config.shift)
    for expert, weights in zip(tournament.experts, state["experts"], strict=True):
        expert.load_state_dict(weights)
    tournament.discriminator.load_state_dict(state["discriminator"])
    return tournament


def evaluation(tournament: Tournament, digits: data.Digits, mechanisms: list[str]) -> dict[str, dict]:
    """Cross-application on the test digits of the training classes, and on the held-out classes (transfer)."""
    config = tournament.config
    return {
        name: evaluate.cross_application(
            tournament.experts,
            tournament.discriminator,
            images[: config.eval_images],
            mechanisms,
            config.shift,
            config.noise_std,
            config.seed,
            samples=4,
        )
        for name, images in (("test", digits.test), ("transfer", digits.held_out))
    }


def train(values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    torch.set_num_threads(1)
    config = SPACE.typed(values)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    mechanisms = parse_mechanisms(config.mechanisms)
    digits = data.digits_of(config)
    tournament = Tournament(config, digits.canonical.shape[-1])
    rounds, done, results = config.rounds, 0, {}
    window = np.zeros((len(mechanisms), config.experts))  # wins since the last frame of the live matrix
    frames: list[np.ndarray] = []  # the live win matrix's history: row-normalised shares, one per report
    frame_rounds: list[int] = []
    wins: dict[str, np.ndarray] = {}
    if ctx.resume:  # continue after the checkpoint's round (its pre-training long done), as if never stopped
        tournament.restore(ctx.resume.state)
        restore_random_state(ctx.resume.state["random"], generator)
        window = ctx.resume.state["window"].numpy().copy()
        wins = {k: v.numpy().copy() for k, v in ctx.resume.state["wins"].items()}
        frames, frame_rounds = list(wins.get("shares", [])), [int(r) for r in wins.get("rounds", [])]
        done = ctx.resume.step
    else:
        try:
            pretrain_identity(tournament.experts, digits.source, mechanisms, config, generator, ctx)
        except Stopped:  # nothing to resume from yet
            return {"rounds_done": 0, "stopped": 1.0, "train_seconds": time.perf_counter() - started}

    def save() -> None:
        state = tournament.state(wins) | {"window": torch.from_numpy(window), "random": random_state(generator)}
        ctx.checkpoint(state, step=done, stage="tournament")

    try:
        for round_ in range(done + 1, rounds + 1):
            ctx.keep_going()
            live = ctx.live(config)
            tournament.set_learning_rates(live.lr_expert, live.lr_discriminator)
            transformed, mechanism_ids = draw_batch(
                digits.source, mechanisms, config.batch, config.shift, config.noise_std, generator
            )
            canonical = digits.canonical[torch.randint(len(digits.canonical), (config.batch,), generator=generator)]
            winners, stats = tournament.play_round(transformed, canonical)
            np.add.at(window, (mechanism_ids.numpy(), winners.numpy()), 1)
            ctx.log(round_, **stats)
            ctx.progress(PRETRAIN_SHARE + (1 - PRETRAIN_SHARE) * round_ / rounds, "tournament")
            done = round_
            if round_ % config.report_every == 0 or round_ == rounds:
                frames.append(evaluate.win_shares(window))
                frame_rounds.append(round_)
                wins = {"counts": window, "rounds": np.array(frame_rounds), "shares": np.stack(frames)}
                ctx.snapshot("wins", round_, wins)
                ctx.log(round_, owned_in_training=evaluate.ownership(window, config.owned_share)["distinct_owners"])
                window = np.zeros_like(window)
            if round_ % config.eval_every == 0 or round_ == rounds:
                results = evaluation(tournament, digits, mechanisms)
                for name, result in results.items():
                    ctx.snapshot(name, round_, result)
                ctx.log(
                    round_,
                    owned=evaluate.ownership(results["test"]["wins"], config.owned_share)["distinct_owners"],
                    winner_error=float(results["test"]["winner_error"].mean()),
                )
                save()
            elif ctx.checkpoint_due():
                save()
    except Stopped:
        pass  # stopped: done < rounds, kept below
    train_seconds = time.perf_counter() - started

    summary: dict[str, Any] = {"rounds_done": done, "train_seconds": train_seconds, "stopped": float(done < rounds)}
    if done < rounds:
        save()
        return summary
    ctx.progress(1.0, "done")
    for name, result in results.items():  # the evaluation of the last round
        summary[name] = evaluate.report(result, mechanisms, config.owned_share)
    return summary


def bench(values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Train one tournament, then report who owns each mechanism on test digits and on held-out classes."""
    summary = train(values, ctx)
    return {
        "wall_seconds": round(summary["train_seconds"], 1),
        "rounds": summary["rounds_done"],
        "test": summary.get("test"),
        "held_out_classes": summary.get("transfer"),
    }
