"""The meta-learner: an LSTM actor-critic fed its previous action and reward (Wang et al. 2016, Fig. 1).

Its weights change only during training, across many bandits; within an episode all learning about
the current bandit has to happen in the LSTM's activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.labs.meta_rl.bandits import observations, pull

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
    config = state["config"]
    model = ActorCritic(config["arms"], config["hidden"], config["reward_input"])
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
def play(model: ActorCritic, probs: np.ndarray, uniforms: np.ndarray, generator: torch.Generator) -> Episodes:
    """Run the agent on n bandits for a full episode, sampling its actions; see baselines.play for `uniforms`."""
    n, pulls, arms = uniforms.shape
    rows = np.arange(n)
    actions = np.zeros((n, pulls), dtype=np.int64)
    rewards = np.zeros((n, pulls))
    obs = torch.zeros(n, pulls, arms + 2)
    arm_probs = torch.zeros(n, pulls, arms)
    action, reward, state = np.full(n, -1), np.zeros(n), None
    for t in range(pulls):
        obs[:, t] = torch.from_numpy(observations(action, reward, t, pulls, arms))
        logits, _, state = model(obs[:, t : t + 1], state)
        arm_probs[:, t] = torch.softmax(logits[:, 0], dim=-1)
        action = torch.multinomial(arm_probs[:, t], 1, generator=generator)[:, 0].numpy()
        reward = pull(probs, action, uniforms[rows, t, action])
        actions[:, t], rewards[:, t] = action, reward
    return Episodes(obs, actions, rewards, arm_probs.numpy())
