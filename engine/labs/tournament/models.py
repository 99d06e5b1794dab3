"""The experts (image -> image) and the discriminator (image -> realness logit).

The paper's expert is four 3x3 convolutions (32 channels, ELU) ending in a sigmoid; ours has the same shape with
`width` channels and `depth` layers, and a linear output. With the sigmoid, an expert that won inverted digits
early found that a black image scored better than a white one, saturated at black and, its gradient vanished,
never left (measured: 3 of 10 experts dead, outputting zeros, after 700 rounds); the discriminator alone now
keeps the outputs in range. Its receptive field, 2 depth + 1 pixels wide, must cover the largest shift
(a diagonal moves a pixel `shift` rows and columns), which the config checks. The discriminator is the paper's
shape too, smaller: strided convolutions, then one logit.
"""

from __future__ import annotations

import torch
from torch import nn


class Expert(nn.Module):
    def __init__(self, width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for _ in range(depth - 1):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ELU()]
            channels = width
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))  # linear: see the module's note on the sigmoid
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class Discriminator(nn.Module):
    def __init__(self, width: int, size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        reduced = (((size + 1) // 2 + 1) // 2 + 1) // 2
        self.logit = nn.Linear(4 * width * reduced * reduced, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B,) logits: high means 'looks like a canonical digit'."""
        return self.logit(self.features(images))[:, 0]
