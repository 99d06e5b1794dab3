"""V: the paper's convolutional VAE on 64x64 frames, with a width multiplier so that it runs fast on a CPU.

Encoder: four stride-2 convolutions (kernel 4, widths 32/64/128/256 times `width`) -> mu, log sigma^2 of z.
Decoder: z -> a 1x1 map of 1024*width channels -> four stride-2 deconvolutions (kernels 5, 5, 6, 6) -> 64x64.
Loss (per frame): sum over pixels of w * BCE(x, x_hat) + max(KL(q(z|x) || N(0, I)), free_bits * z_size), each
pixel weighted by its salience w = 1 + s * sum_c |x - mean frame| (s = 0: every pixel alike, as in the paper).
The paper sums squared errors instead; on the tutorial game's sparse frames (small projectiles on black) that loss
stalls with the projectiles blurred away (measured: 2800 updates stuck at the mean image), BCE's steeper gradient
does not. In Doom a fireball covers 0.2 % of a frame: with s = 0, V learns the room and no fireball at all in the
training a CPU affords (measured: 7 % of fireball pixels reconstructed after 40 k frames; with s = 10, 20 %, every
near fireball visible), and a V blind to fireballs leaves M and C nothing to dodge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from engine.context import Context
    from engine.labs.world_models.config import Config


def scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


class ConvVAE(nn.Module):
    def __init__(self, channels: int, z_size: int, width: float = 1.0):
        super().__init__()
        self.channels, self.z_size, self.width = channels, z_size, width
        widths = [scaled(c, width) for c in (32, 64, 128, 256)]
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, widths[0], 4, stride=2),
            nn.ReLU(),  # 64 -> 31
            nn.Conv2d(widths[0], widths[1], 4, stride=2),
            nn.ReLU(),  # -> 14
            nn.Conv2d(widths[1], widths[2], 4, stride=2),
            nn.ReLU(),  # -> 6
            nn.Conv2d(widths[2], widths[3], 4, stride=2),
            nn.ReLU(),  # -> 2
            nn.Flatten(),
        )
        self.to_mu = nn.Linear(4 * widths[3], z_size)
        self.to_logvar = nn.Linear(4 * widths[3], z_size)
        self.register_buffer("mean_frame", torch.zeros(1, channels, 64, 64))  # set from the data by train_vae
        self.bottleneck = scaled(1024, width)
        self.from_z = nn.Linear(z_size, self.bottleneck)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(self.bottleneck, widths[2], 5, stride=2),
            nn.ReLU(),  # 1 -> 5
            nn.ConvTranspose2d(widths[2], widths[1], 5, stride=2),
            nn.ReLU(),  # -> 13
            nn.ConvTranspose2d(widths[1], widths[0], 6, stride=2),
            nn.ReLU(),  # -> 30
            nn.ConvTranspose2d(widths[0], channels, 6, stride=2),
            nn.Sigmoid(),  # -> 64
        )

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, C, 64, 64) in [0, 1] -> mu, logvar, each (B, z_size)."""
        features = self.encoder(frames)
        return self.to_mu(features), self.to_logvar(features)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_z(z).view(-1, self.bottleneck, 1, 1))

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(frames)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation
        return self.decode(z), mu, logvar


def salience(frames: torch.Tensor, mean_frame: torch.Tensor, strength: float) -> torch.Tensor:
    """w = 1 + strength * sum_c |x - mean frame| (B, 1, 64, 64): what differs from the usual scene (a fireball, a
    near wall) counts more in the reconstruction loss than the floor and the ceiling every frame shares."""
    return 1 + strength * (frames - mean_frame).abs().sum(1, keepdim=True)


def vae_loss(
    reconstruction: torch.Tensor,
    frames: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    free_bits: float,
    weights: torch.Tensor | float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, reconstruction loss, KL), each a mean over the batch; each pixel's BCE counts `weights` times (its
    salience); KL below free_bits nats per dimension is free."""
    bce = F.binary_cross_entropy(reconstruction, frames, reduction="none") * weights
    reconstruction_loss = bce.flatten(1).sum(1).mean()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return reconstruction_loss + kl.clamp(min=free_bits * mu.shape[1]).mean(), reconstruction_loss, kl.mean()


def to_tensor(frames) -> torch.Tensor:
    """uint8 frames (..., 64, 64, C) as a float (..., C, 64, 64) tensor in [0, 1]."""
    return torch.as_tensor(np.ascontiguousarray(frames)).movedim(-1, -3).float().div(255)


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """The inverse of to_tensor, for snapshots: (..., C, 64, 64) in [0, 1] -> uint8 (..., 64, 64, C)."""
    return frames.movedim(-3, -1).mul(255).round().clamp(0, 255).to(torch.uint8)


class Frames:
    """Every collected frame, indexed as one array without copying the episodes into one (a round of Doom episodes
    is gigabytes: a copy would double what a run holds)."""

    def __init__(self, episodes: list[np.ndarray]):
        self.episodes = episodes
        self.starts = np.cumsum([0] + [len(frames) for frames in episodes])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """The frames at these positions (n,), stacked (n, 64, 64, C)."""
        episode = np.searchsorted(self.starts, index, side="right") - 1
        return np.stack([self.episodes[e][i - self.starts[e]] for e, i in zip(episode, index, strict=True)])


def train_vae(
    vae: ConvVAE,
    frames: Frames,
    config: Config,
    ctx: Context,
    generator: torch.Generator,
    progress: Callable[[float], None],
    epoch_offset: int = 0,
    after_epoch: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Adam on vae_loss for `vae_epochs` epochs, each a fresh random subset of at most `vae_frames` frames
    (consecutive frames are near copies), the learning rate live (from the context)."""
    device = next(vae.parameters()).device  # V trains where it lies (the `device` parameter): batches go there
    optimizer = torch.optim.Adam(vae.parameters(), lr=ctx.live(config).vae_lr)
    epochs, batch = config.vae_epochs, config.vae_batch
    every = np.arange(0, len(frames), max(1, len(frames) // 2000))
    vae.mean_frame.copy_(to_tensor(frames[every]).mean(0, keepdim=True).to(device))
    for epoch in range(epochs):
        totals = np.zeros(3)
        order = torch.randperm(len(frames), generator=generator)[: config.vae_frames].numpy()
        starts = range(0, len(order), batch)
        for i, start in enumerate(starts):
            ctx.keep_going()
            for group in optimizer.param_groups:
                group["lr"] = ctx.live(config).vae_lr
            x = to_tensor(frames[order[start : start + batch]]).to(device)
            reconstruction, mu, logvar = vae(x)
            weights = salience(x, vae.mean_frame, config.salience)
            loss, reconstruction_loss, kl = vae_loss(reconstruction, x, mu, logvar, config.free_bits, weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += np.array([loss.item(), reconstruction_loss.item(), kl.item()]) * len(x)
            progress((epoch + (i + 1) / len(starts)) / epochs)
        total, recon, kl = (totals / len(order)).tolist()
        ctx.log(epoch_offset + epoch + 1, vae_loss=total, recon_loss=recon, kl=kl)
        if after_epoch:
            after_epoch(epoch_offset + epoch + 1)
    return {"vae_loss": total, "recon_loss": recon, "kl": kl}
