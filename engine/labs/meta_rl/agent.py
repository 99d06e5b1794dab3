"""The meta-learner: an LSTM actor-critic fed its previous action and reward (Wang et al. 2016, Fig. 1).

Its weights change only during training, across many bandits; within an episode all learning about
the current bandit has to happen in the LSTM's activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.labs.meta_rl.config import SPACE

LSTMState = tuple[torch.Tensor, torch.Tensor]


class ActorCritic(nn.Module):
    """Input per pull: one-hot previous action, previous reward, t / pulls. Output: policy logits and a value.

    Two choices that made training work within minutes on a CPU (both measured; without either, A2C sat at
    random-policy regret for hundreds of updates):
    - The LSTM also gets one-hot(action) * reward, "which arm just paid". Win-stay/lose-shift is an XOR of
      action and reward, which a first-order gradient cannot find from the raw inputs alone.
    - The critic reads the LSTM state but does not train it: its regression gradient on returns of up to
      ~50 regret units otherwise swamps the policy gradient in the shared LSTM.
    """

    def __init__(self, arms: int, hidden: int, reward_input: bool = True):
        super().__init__()
        self.arms = arms
        self.lstm = nn.LSTM(2 * arms + 2, hidden, batch_first=True)
        self.policy_head = nn.Linear(hidden, arms)
        self.value_head = nn.Linear(hidden, 1)
        # The ablation: the reward column is zeroed, so the agent cannot tell good arms from bad ones.
        input_mask = torch.ones(arms + 2)
        input_mask[arms] = float(reward_input)
        self.register_buffer("input_mask", input_mask, persistent=False)

    def forward(
        self, obs: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """obs: (batch, time, arms + 2) -> logits (batch, time, arms), values (batch, time), final LSTM state."""
        obs = obs * self.input_mask
        arm_paid = obs[..., : self.arms] * obs[..., self.arms : self.arms + 1]
        features, state = self.lstm(torch.cat([obs, arm_paid], dim=-1), state)
        return self.policy_head(features), self.value_head(features.detach()).squeeze(-1), state


def from_checkpoint(state: dict) -> ActorCritic:
    """The frozen agent a checkpoint holds (`{"model": state_dict, "config": config}`), ready to play."""
    config = SPACE.typed(state["config"])
    model = ActorCritic(config.arms, config.hidden, config.reward_input)
    model.load_state_dict(state["model"])
    return model.eval()


@dataclass
class Episodes:
    """A batch of played episodes. `obs` is what the agent saw; `arm_probs` its policy before each pull."""

    obs: torch.Tensor  # (n, pulls, arms + 2)
    actions: np.ndarray  # (n, pulls) int
    rewards: np.ndarray  # (n, pulls) 0/1
    arm_probs: np.ndarray  # (n, pulls, arms)


@torch.no_grad()
def play(
    model: ActorCritic, probs: np.ndarray, uniforms: np.ndarray, generator: torch.Generator, greedy: bool = False
) -> Episodes:
    """Run the agent on n bandits for a full episode; see baselines.play for `uniforms`.

    Actions are sampled from the policy (training) or, with `greedy`, its most likely arm (evaluation).
    Everything stays in torch: the observations are the same as `bandits.observations` builds.
    """
    n, pulls, arms = uniforms.shape
    rows = torch.arange(n)
    probs, uniforms = torch.from_numpy(probs), torch.from_numpy(uniforms)
    obs = torch.zeros(n, pulls, arms + 2)
    obs[:, :, arms + 1] = torch.arange(pulls) / pulls
    actions = torch.zeros(n, pulls, dtype=torch.int64)
    rewards = torch.zeros(n, pulls)
    arm_probs = torch.zeros(n, pulls, arms)
    state = None
    for t in range(pulls):
        logits, _, state = model(obs[:, t : t + 1], state)
        arm_probs[:, t] = torch.softmax(logits[:, 0], dim=-1)
        if greedy:
            action = arm_probs[:, t].argmax(dim=-1)
        else:
            action = torch.multinomial(arm_probs[:, t], 1, generator=generator)[:, 0]
        # The same payout rule as bandits.pull (float32 luck against float64 probabilities).
        reward = (uniforms[rows, t, action].double() < probs[rows, action]).float()
        actions[:, t], rewards[:, t] = action, reward
        if t + 1 < pulls:
            obs[rows, t + 1, action] = 1.0
            obs[:, t + 1, arms] = reward
    return Episodes(obs, actions.numpy(), rewards.numpy().astype(np.float64), arm_probs.numpy())
