"""Every hyperparameter of the meta-RL lab, one line each (type, default, bounds), its help in the line under it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.labs.meta_rl.bandits import TASKS, check_arms
from engine.params import ConfigError, ParamSpace, param


@dataclass(frozen=True)
class Config:
    task: str = param("independent", choices=TASKS, branch=True)
    """Bandit family: arm probabilities independent U[0,1], (p, 1-p), or one good arm among bad ones (easy 0.9/0.1,
    medium 0.75/0.25, hard 0.6/0.4)"""
    arms: int = param(2, low=2, high=10)
    """Number of arms per bandit (dependent arms exist only for 2)"""
    pulls: int = param(100, low=5, high=100)
    """Pulls per episode: the horizon the agent must learn to explore within"""
    hidden: int = param(32, low=4, high=256)
    """LSTM units: the agent's working memory"""
    batch: int = param(512, low=8, high=4096)
    """Episodes played in parallel per update: batch / group bandits, each played group times"""
    group: int = param(8, low=2, high=64)
    """Copies of each bandit per update, with different luck; each copy's baseline is the others' mean return (must
    divide batch)"""
    updates: int = param(220, low=1, high=100_000, branch=True)
    """Number of updates: one batch of full episodes each, reused for `epochs` PPO passes"""
    lr: float = param(3e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """Adam learning rate at the start of training (decays linearly to zero)"""
    entropy_coef: float = param(0.05, low=0.0, high=1.0, live=True)
    """Entropy bonus at the start of training (decays linearly to zero)"""
    epochs: int = param(3, low=1, high=32, branch=True)
    """PPO passes over each batch of played episodes (1, with 1 minibatch, is A2C)"""
    minibatches: int = param(8, low=1, high=64, branch=True)
    """Minibatches per PPO epoch: gradient steps per epoch (more, smaller steps learned faster)"""
    clip: float = param(0.2, low=0.01, high=10.0, branch=True)
    """PPO clip: how far one update may move the probability of a played pull"""
    value_coef: float = param(0.5, low=0.0, high=10.0, branch=True)
    """Weight of the critic's squared error in the loss"""
    gamma: float = param(1.0, low=0.5, high=1.0, branch=True)
    """Discount factor (regret is undiscounted, so close to 1)"""
    gae_lambda: float = param(1.0, low=0.0, high=1.0, branch=True)
    """GAE lambda: 1 = Monte Carlo returns, lower trades bias for variance"""
    max_grad_norm: float = param(1.0, low=0.01, high=100.0, branch=True)
    """Gradient norm clip"""
    reward_input: bool = param(True)
    """Feed the previous reward to the agent (off = the paper's ablation)"""
    eval_episodes: int = param(10_000, low=10, high=20_000, branch=True)
    """Held-out bandits for the final evaluation"""
    eval_every: int = param(50, low=1, high=100_000, branch=True)
    """Updates between live evaluations"""
    live_eval_episodes: int = param(500, low=10, high=20_000, branch=True)
    """Held-out bandits in each live evaluation (fewer than the final one's: it runs while the agent trains)"""
    bench_tasks: str = param("independent,dependent", in_ui=False)
    """Comma-separated tasks that `bench` trains and evaluates, each with one agent"""
    seed: int = param(0, low=0, high=2**31 - 1)
    """Random seed: a run is reproducible from its config"""

    def __post_init__(self) -> None:
        check_arms(self.task, self.arms)
        if self.batch % self.group:
            raise ConfigError(f"batch: {self.batch} episodes do not split into groups of {self.group}")


SPACE = ParamSpace.of(
    Config,
    presets={
        "quick": {},
        "paper": {"batch": 256, "updates": 20_000, "lr": 5e-4, "eval_every": 1000},
    },
)
