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

from engine.labs.world_models import keep_going

if TYPE_CHECKING:
    from engine.runtime.context import Context

LSTMState = tuple[torch.Tensor, torch.Tensor]
DEATH_TARGETS = ("death", "hit")


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

    def step(self, z: torch.Tensor, actions: torch.Tensor, state: LSTMState) -> tuple[Prediction, torch.Tensor,
                                                                                   LSTMState]:
        """One step for a batch (N, z_size), (N, action_size): forward() with T = 1, the LSTM's gates written out
        (torch's fused LSTM costs 5x more per call for a single step on a CPU). Returns (N, ...) shapes."""
        lstm = self.lstm
        h, c = state[0][0], state[1][0]
        gates = F.linear(torch.cat([z, actions], -1), lstm.weight_ih_l0, lstm.bias_ih_l0) + F.linear(
            h, lstm.weight_hh_l0, lstm.bias_hh_l0)
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return self.predict(h), h, (h.unsqueeze(0), c.unsqueeze(0))

    def predict(self, hidden: torch.Tensor) -> Prediction:
        """The head on the LSTM's output h (..., H): the mixture for z_{t+1}, the step's reward and death."""
        out = self.head(hidden)
        mixture = out[..., :-2].unflatten(-1, (3, self.z_size, self.components))
        return Prediction(mixture[..., 0, :, :], mixture[..., 1, :, :], mixture[..., 2, :, :], out[..., -2],
                          out[..., -1])

    def initial_state(self, batch: int) -> LSTMState:
        zeros = torch.zeros(1, batch, self.hidden)
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
    bce = F.binary_cross_entropy_with_logits(prediction.done_logit, death, pos_weight=torch.tensor(weight),
                                             reduction="none")
    return (bce * mask).sum() / mask.sum()


def reward_loss(prediction: Prediction, rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((prediction.reward - rewards).pow(2) * mask).sum() / mask.sum()


def m_loss(prediction: Prediction, batch: SequenceBatch, z_next: torch.Tensor, death_weight: float
           ) -> tuple[torch.Tensor, dict[str, float]]:
    """M's loss: mdn_loss + death_loss + reward_loss, and each term for the charts."""
    terms = {"mdn_loss": mdn_loss(prediction, z_next, batch.mask),
             "done_loss": death_loss(prediction, batch.death, batch.mask, death_weight),
             "reward_loss": reward_loss(prediction, batch.rewards, batch.mask)}
    return sum(terms.values()), {name: value.item() for name, value in terms.items()}


def sample_mdn(prediction: Prediction, temperature: float | torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
    """Draw z_{t+1} (..., z_size) at temperature tau: component ~ softmax(logits / tau), z ~ N(mu, tau sigma^2).
    temperature: one number, or one per row of the batch (N,)."""
    tau = torch.as_tensor(temperature, dtype=torch.float32)
    per_row = tau.reshape(-1, *[1] * (prediction.logits.dim() - 1)) if tau.dim() else tau
    weights = torch.softmax(prediction.logits / per_row, dim=-1)
    uniform = torch.rand(weights.shape[:-1] + (1,), generator=generator)  # inverse CDF: cheaper than multinomial
    component = (weights.cumsum(-1) < uniform).sum(-1, keepdim=True).clamp(max=weights.shape[-1] - 1)
    mu = prediction.mu.gather(-1, component).squeeze(-1)
    sigma = prediction.log_sigma.gather(-1, component).squeeze(-1).exp()
    noise = torch.randn(mu.shape, generator=generator)
    return mu + sigma * (per_row.squeeze(-1) if tau.dim() else per_row).sqrt() * noise


# ---------------------------------------------------------------------------------------------- training M


@dataclass
class SequenceBatch:
    """Episodes of similar length padded to a common T, ready for M."""

    mu: torch.Tensor  # (B, T+1, z) V's posterior for every frame
    logvar: torch.Tensor  # (B, T+1, z)
    actions: torch.Tensor  # (B, T, A)
    rewards: torch.Tensor  # (B, T)
    death: torch.Tensor  # (B, T) death_labels
    mask: torch.Tensor  # (B, T) 1 on real steps, 0 on padding


def death_labels(damage: np.ndarray, terminated: bool, target: str, horizon: int) -> torch.Tensor:
    """What M's death head learns (T,): 1 on the step that ended the game — or, target "hit", on every step that
    cost health (in Doom a death is the last of 1-3 fireball hits, so a dream that ends at the first is stricter
    than the game, never kinder) — and on the `horizon` steps before each."""
    marks = torch.as_tensor(damage > 0) if target == "hit" else torch.zeros(len(damage), dtype=torch.bool)
    marks[-1] |= terminated
    if horizon:  # each mark also covers the horizon steps before it
        marks = F.max_pool1d(F.pad(marks.float()[None, None], (0, horizon)), horizon + 1, stride=1)[0, 0] > 0
    return marks.float()


def sequence_batches(latents: list[tuple[torch.Tensor, torch.Tensor]], actions: list[torch.Tensor],
                     rewards: list[np.ndarray], deaths: list[torch.Tensor], batch: int) -> list[SequenceBatch]:
    """Sort episodes by length, then cut into batches, so that padding wastes little of M's time."""
    order = np.argsort([len(r) for r in rewards])
    batches = []
    for start in range(0, len(order), batch):
        chosen = order[start : start + batch]
        steps = max(len(rewards[i]) for i in chosen)
        padded: dict[str, list[torch.Tensor]] = {name: [] for name in ("mu", "logvar", "actions", "rewards",
                                                                         "death", "mask")}
        for i in chosen:
            (mu, logvar), length = latents[i], len(rewards[i])
            pad = steps - length
            death = deaths[i]
            padded["mu"].append(F.pad(mu, (0, 0, 0, pad)))
            padded["logvar"].append(F.pad(logvar, (0, 0, 0, pad)))
            padded["actions"].append(F.pad(actions[i], (0, 0, 0, pad)))
            padded["rewards"].append(F.pad(torch.as_tensor(rewards[i]), (0, pad)))
            padded["death"].append(F.pad(death, (0, pad)))
            padded["mask"].append(F.pad(torch.ones(length), (0, pad)))
        batches.append(SequenceBatch(**{name: torch.stack(values) for name, values in padded.items()}))
    return batches


def train_rnn(rnn: MDNRNN, batches: list[SequenceBatch], ctx: Context, generator: torch.Generator,
              progress: Callable[[float], None], epoch_offset: int = 0,
              after_epoch: Callable[[int], None] | None = None) -> dict[str, float]:
    """Adam on m_loss for `rnn_epochs` passes over every batch, gradients clipped as in the paper. Each pass draws a
    fresh z from V's posterior for every frame, as the paper does: M learns V's uncertainty too."""
    p = ctx.params
    optimizer = torch.optim.Adam(rnn.parameters(), lr=p["rnn_lr"])
    epochs = p["rnn_epochs"]
    for epoch in range(epochs):
        totals: dict[str, float] = {}
        steps = 0.0
        for i, b in enumerate(torch.randperm(len(batches), generator=generator).tolist()):
            keep_going(ctx)
            for group in optimizer.param_groups:
                group["lr"] = ctx.params["rnn_lr"]
            batch = batches[b]
            z = batch.mu + torch.randn(batch.mu.shape, generator=generator) * (0.5 * batch.logvar).exp()
            prediction, _, _ = rnn(z[:, :-1], batch.actions)
            loss, terms = m_loss(prediction, batch, z[:, 1:], p["death_weight"])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rnn.parameters(), p["rnn_grad_clip"])
            optimizer.step()
            weight = batch.mask.sum().item()
            for name, value in (terms | {"rnn_loss": loss.item()}).items():
                totals[name] = totals.get(name, 0.0) + value * weight
            steps += weight
            progress((epoch + (i + 1) / len(batches)) / epochs)
        means = {name: total / steps for name, total in totals.items()}
        ctx.log(epoch_offset + epoch + 1, **means)
        if after_epoch:
            after_epoch(epoch + 1)
    return means
