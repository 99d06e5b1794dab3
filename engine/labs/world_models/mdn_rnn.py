"""M: an LSTM with a mixture-density head, P(z_{t+1} | z_t, a_t, h_t), plus the step's reward and death.

Each latent dimension i gets its own mixture of K Gaussians:
    P(z_{t+1,i}) = sum_k pi_{ik} N(z_{t+1,i}; mu_{ik}, sigma_{ik}^2),   pi_i = softmax(logits_i).
Sampling at temperature tau (as in the paper's code): logits / tau, sigma * sqrt(tau).
M's loss (m_loss) = mixture negative log-likelihood + weighted death cross-entropy + reward squared error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from engine.context import Context
    from engine.labs.world_models.config import Config

LSTMState = tuple[torch.Tensor, torch.Tensor]
LOGS_PER_STAGE = 20  # M's losses reach the charts this many times while it trains


@dataclass
class Prediction:
    logits: torch.Tensor  # (..., z_size, K) mixture logits
    mu: torch.Tensor  # (..., z_size, K)
    log_sigma: torch.Tensor  # (..., z_size, K)
    reward: torch.Tensor  # (...,) reward of the step
    done_logit: torch.Tensor  # (...,) the step ended the game (a death)


class MDNRNN(nn.Module):
    def __init__(self, z_size: int, action_size: int, hidden: int, components: int = 5):
        super().__init__()
        self.z_size, self.components, self.hidden = z_size, components, hidden
        self.lstm = nn.LSTM(z_size + action_size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 3 * z_size * components + 2)

    def forward(
        self, z: torch.Tensor, actions: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[Prediction, torch.Tensor, LSTMState]:
        """z (B, T, z_size), actions (B, T, action_size) -> per-step prediction, hidden outputs (B, T, H), state."""
        hidden, state = self.lstm(torch.cat([z, actions], dim=-1), state)
        return self.predict(hidden), hidden, state

    def step(
        self, z: torch.Tensor, actions: torch.Tensor, state: LSTMState
    ) -> tuple[Prediction, torch.Tensor, LSTMState]:
        """One step for a batch (N, z_size), (N, action_size): forward() with T = 1, the LSTM's gates written out
        (torch's fused LSTM costs 5x more per call for a single step on a CPU). Returns (N, ...) shapes."""
        lstm = self.lstm
        h, c = state[0][0], state[1][0]
        gates = F.linear(torch.cat([z, actions], -1), lstm.weight_ih_l0, lstm.bias_ih_l0) + F.linear(
            h, lstm.weight_hh_l0, lstm.bias_hh_l0
        )
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return self.predict(h), h, (h.unsqueeze(0), c.unsqueeze(0))

    def predict(self, hidden: torch.Tensor) -> Prediction:
        """The head on the LSTM's output h (..., H): the mixture for z_{t+1}, the step's reward and death."""
        out = self.head(hidden)
        mixture = out[..., :-2].unflatten(-1, (3, self.z_size, self.components))
        return Prediction(
            mixture[..., 0, :, :], mixture[..., 1, :, :], mixture[..., 2, :, :], out[..., -2], out[..., -1]
        )

    def initial_state(self, batch: int, device: torch.device | None = None) -> LSTMState:
        zeros = torch.zeros(1, batch, self.hidden, device=device)
        return zeros, zeros.clone()


def mdn_loss(prediction: Prediction, z_next: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over latent dimensions and unmasked steps of -log sum_k pi_k N(z_next; mu_k, sigma_k^2)."""
    z = z_next.unsqueeze(-1)
    log_normal = -0.5 * ((z - prediction.mu) / prediction.log_sigma.exp()).pow(2) - prediction.log_sigma
    log_normal = log_normal - 0.5 * math.log(2 * math.pi)
    log_likelihood = torch.logsumexp(torch.log_softmax(prediction.logits, dim=-1) + log_normal, dim=-1)
    return -(log_likelihood.mean(-1) * mask).sum() / mask.sum()


def death_loss(prediction: Prediction, death: torch.Tensor, mask: torch.Tensor, weight: float) -> torch.Tensor:
    """Mean over unmasked steps of -[w d log p + (1 - d) log(1 - p)], p = sigmoid(done logit): deaths are rare
    (one step in hundreds), so each counts w times. The learnt odds are then w times the true odds."""
    bce = F.binary_cross_entropy_with_logits(
        prediction.done_logit, death, pos_weight=torch.tensor(weight), reduction="none"
    )
    return (bce * mask).sum() / mask.sum()


def reward_loss(prediction: Prediction, rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((prediction.reward - rewards).pow(2) * mask).sum() / mask.sum()


def m_loss(
    prediction: Prediction, batch: SequenceBatch, z_next: torch.Tensor, death_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """M's loss: mdn_loss + death_loss + reward_loss, and each term for the charts."""
    terms = {
        "mdn_loss": mdn_loss(prediction, z_next, batch.mask),
        "done_loss": death_loss(prediction, batch.death, batch.mask, death_weight),
        "reward_loss": reward_loss(prediction, batch.rewards, batch.mask),
    }
    return sum(terms.values()), {name: value.item() for name, value in terms.items()}


def sample_mdn(
    prediction: Prediction,
    temperature: float | torch.Tensor,
    generator: torch.Generator | None = None,
    noise: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Draw z_{t+1} (..., z_size) at temperature tau: component ~ softmax(logits / tau), z ~ N(mu, tau sigma^2).
    temperature: one number, or one per row of the batch (N,). noise: the draw's random numbers, (uniform
    (..., z_size, 1) picking the component, standard normal (..., z_size)); None: fresh from `generator`."""
    tau = torch.as_tensor(temperature, dtype=torch.float32)
    per_row = tau.reshape(-1, *[1] * (prediction.logits.dim() - 1)) if tau.dim() else tau
    weights = torch.softmax(prediction.logits / per_row, dim=-1)
    if noise is None:
        noise = (
            torch.rand(weights.shape[:-1] + (1,), generator=generator),
            torch.randn(weights.shape[:-1], generator=generator),
        )
    uniform, normal = noise
    component = (weights.cumsum(-1) < uniform).sum(-1, keepdim=True).clamp(max=weights.shape[-1] - 1)  # inverse CDF
    mu = prediction.mu.gather(-1, component).squeeze(-1)
    sigma = prediction.log_sigma.gather(-1, component).squeeze(-1).exp()
    return mu + sigma * (per_row.squeeze(-1) if tau.dim() else per_row).sqrt() * normal


# ---------------------------------------------------------------------------------------------- training M


@dataclass
class Sequences:
    """Every collected episode seen through V: what M's training windows are cut from."""

    mu: list[torch.Tensor]  # (T+1, z) V's posterior mean for every frame of each episode
    logvar: list[torch.Tensor]  # (T+1, z)
    actions: list[torch.Tensor]  # (T, A)
    rewards: list[torch.Tensor]  # (T,)
    death: list[torch.Tensor]  # (T,) death_labels

    def __post_init__(self) -> None:
        lengths = torch.as_tensor([len(r) for r in self.rewards])
        self.steps = torch.cat(
            [torch.stack([torch.full((n,), i), torch.arange(n)], 1) for i, n in enumerate(lengths.tolist())]
        )  # (N, 2): (episode, step) of every step
        self.marked = self.steps[torch.cat(self.death) > 0]  # the steps M must learn to call deadly


@dataclass
class SequenceBatch:
    """Windows of episodes padded to a common T, ready for M."""

    mu: torch.Tensor  # (B, T+1, z) V's posterior for every frame
    logvar: torch.Tensor  # (B, T+1, z)
    actions: torch.Tensor  # (B, T, A)
    rewards: torch.Tensor  # (B, T)
    death: torch.Tensor  # (B, T) death_labels
    mask: torch.Tensor  # (B, T) 1 on real steps, 0 on padding

    def to(self, device: torch.device) -> SequenceBatch:
        return SequenceBatch(**{name: value.to(device) for name, value in vars(self).items()})


def death_labels(damage: np.ndarray, terminated: bool, target: str, horizon: int) -> torch.Tensor:
    """What M's death head learns (T,): 1 on the step that ended the game — or, target "hit", on every step that
    cost health (in Doom a death is the last of 1-3 fireball hits, so a dream that ends at the first is stricter
    than the game, never kinder) — and on the `horizon` steps before each."""
    marks = torch.as_tensor(damage > 0) if target == "hit" else torch.zeros(len(damage), dtype=torch.bool)
    marks[-1] |= terminated
    if horizon:  # each mark also covers the horizon steps before it
        marks = F.max_pool1d(F.pad(marks.float()[None, None], (0, horizon)), horizon + 1, stride=1)[0, 0] > 0
    return marks.float()


def sample_windows(data: Sequences, batch: int, window: int, generator: torch.Generator) -> SequenceBatch:
    """`batch` windows of `window` steps, each around a step drawn uniformly from every collected step (the
    reference code's 500-step chunks of one concatenated stream, shorter and drawn at random)."""
    anchors = data.steps[torch.randint(len(data.steps), (batch,), generator=generator)]
    padded: dict[str, list[torch.Tensor]] = {
        name: [] for name in ("mu", "logvar", "actions", "rewards", "death", "mask")
    }
    for (episode, at), back in zip(
        anchors.tolist(), torch.randint(window, (batch,), generator=generator).tolist(), strict=True
    ):
        length = len(data.rewards[episode])
        start = max(0, min(at - back, length - window))
        end = min(start + window, length)
        pad = window - (end - start)
        padded["mu"].append(F.pad(data.mu[episode][start : end + 1], (0, 0, 0, pad)))
        padded["logvar"].append(F.pad(data.logvar[episode][start : end + 1], (0, 0, 0, pad)))
        padded["actions"].append(F.pad(data.actions[episode][start:end], (0, 0, 0, pad)))
        for name in ("rewards", "death"):
            padded[name].append(F.pad(getattr(data, name)[episode][start:end], (0, pad)))
        padded["mask"].append(F.pad(torch.ones(end - start), (0, pad)))
    return SequenceBatch(**{name: torch.stack(values) for name, values in padded.items()})


def decayed_lr(lr: float, final: float, progress: float) -> float:
    """The reference code's learning rate, decaying geometrically from lr to final * lr over training."""
    return lr * final**progress


def train_rnn(
    rnn: MDNRNN,
    data: Sequences,
    config: Config,
    ctx: Context,
    generator: torch.Generator,
    progress: Callable[[float], None],
    step_offset: int = 0,
    after_log: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Adam on m_loss for `rnn_updates` updates of `rnn_batch` random windows, the learning rate decaying, gradients
    clipped as in the paper. Each window draws z from V's posterior, its spread scaled by `rnn_posterior` (1: the
    paper's samples, M learns V's uncertainty too; 0: V's means). Logs the mean losses every `rnn_updates / 20`.
    The learning rate is live (from the context)."""
    device = next(rnn.parameters()).device  # M trains where it lies (the `device` parameter): windows go there
    optimizer = torch.optim.Adam(rnn.parameters(), lr=ctx.live(config).rnn_lr)
    updates = config.rnn_updates
    every = max(1, updates // LOGS_PER_STAGE)
    totals: dict[str, float] = {}
    steps = 0.0
    for update in range(1, updates + 1):
        ctx.keep_going()
        for group in optimizer.param_groups:
            group["lr"] = decayed_lr(ctx.live(config).rnn_lr, config.rnn_lr_final, update / updates)
        batch = sample_windows(data, config.rnn_batch, config.rnn_window, generator).to(device)
        noise = torch.randn(batch.mu.shape, generator=generator).to(device) * config.rnn_posterior
        z = batch.mu + noise * (0.5 * batch.logvar).exp()
        prediction, _, _ = rnn(z[:, :-1], batch.actions)
        loss, terms = m_loss(prediction, batch, z[:, 1:], config.death_weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rnn.parameters(), config.rnn_grad_clip)
        optimizer.step()
        weight = batch.mask.sum().item()
        for name, value in (terms | {"rnn_loss": loss.item()}).items():
            totals[name] = totals.get(name, 0.0) + value * weight
        steps += weight
        progress(update / updates)
        if update % every == 0 or update == updates:
            means = {name: total / steps for name, total in totals.items()}
            ctx.log(step_offset + update, **means)
            totals, steps = {}, 0.0
            if after_log:
                after_log(update)
    return means
