"""M: an LSTM with a mixture-density head, P(z_{t+1} | z_t, a_t, h_t), plus the step's reward and termination.

Each latent dimension i gets its own mixture of K Gaussians:
    P(z_{t+1,i}) = sum_k pi_{ik} N(z_{t+1,i}; mu_{ik}, sigma_{ik}^2),   pi_i = softmax(logits_i).
Sampling at temperature tau (as in the paper's code): logits / tau, sigma * sqrt(tau).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass
class Prediction:
    logits: torch.Tensor  # (..., z_size, K) mixture logits
    mu: torch.Tensor  # (..., z_size, K)
    log_sigma: torch.Tensor  # (..., z_size, K)
    reward: torch.Tensor  # (...,) reward of the step
    done_logit: torch.Tensor  # (...,) the step ended the episode


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
        out = self.head(hidden)
        mixture = out[..., :-2].unflatten(-1, (3, self.z_size, self.components))
        prediction = Prediction(mixture[..., 0, :, :], mixture[..., 1, :, :], mixture[..., 2, :, :],
                                out[..., -2], out[..., -1])
        return prediction, hidden, state

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


def sample_mdn(prediction: Prediction, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z_{t+1} (..., z_size) at temperature tau: component ~ softmax(logits / tau), z ~ N(mu, tau sigma^2)."""
    weights = torch.softmax(prediction.logits / temperature, dim=-1)
    component = torch.multinomial(weights.reshape(-1, weights.shape[-1]), 1, generator=generator)
    component = component.view(weights.shape[:-1] + (1,))
    mu = prediction.mu.gather(-1, component).squeeze(-1)
    sigma = prediction.log_sigma.gather(-1, component).squeeze(-1).exp()
    noise = torch.randn(mu.shape, generator=generator)
    return mu + sigma * math.sqrt(temperature) * noise
