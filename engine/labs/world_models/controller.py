"""C: a linear map from [z_t, h_t] to the action, a_t = W [z_t, h_t] + b; its parameters are one flat vector for CMA-ES.

Discrete actions take the arg-max of the outputs; box actions squash each output with tanh into the box.
A whole CMA-ES population acts at once: parameters (P, n_params), features (P, E, F) for E episodes each.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from torch.nn import functional as F


class LinearController:
    def __init__(self, feature_size: int, action_space: spaces.Space):
        self.feature_size = feature_size
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.outputs = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        if not self.discrete:
            self.low = torch.as_tensor(action_space.low, dtype=torch.float32)
            self.high = torch.as_tensor(action_space.high, dtype=torch.float32)

    @property
    def n_params(self) -> int:
        return (self.feature_size + 1) * self.outputs

    def act(self, params: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """params (P, n_params), features (P, E, F) -> actions (P, E) long, or (P, E, outputs) float for boxes."""
        weights = params[:, : self.feature_size * self.outputs].view(-1, self.feature_size, self.outputs)
        bias = params[:, self.feature_size * self.outputs :].unsqueeze(1)
        outputs = torch.bmm(features, weights) + bias
        if self.discrete:
            return outputs.argmax(-1)
        return self.low + (torch.tanh(outputs) + 1) / 2 * (self.high - self.low)

    def action_vectors(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as the float vectors the world model reads: one-hot when discrete, as they are for boxes."""
        return F.one_hot(actions.long(), self.outputs).float() if self.discrete else actions.float()
