"""Every hyperparameter of the meta-RL lab: default, bounds, one line of help."""

from __future__ import annotations

from engine.labs.meta_rl.bandits import TASKS, check_arms
from engine.params import ConfigError, Param, ParamSpace


def check(config: dict) -> None:
    check_arms(config["task"], config["arms"])
    if config["batch"] % config["group"]:
        raise ConfigError(f"batch: {config['batch']} episodes do not split into groups of {config['group']}")


SPACE = ParamSpace(
    params=(
        Param(
            "task",
            "independent",
            "Bandit family: arm probabilities independent U[0,1], (p, 1-p), "
            "or one good arm among bad ones (easy 0.9/0.1, medium 0.75/0.25, hard 0.6/0.4)",
            choices=TASKS,
            branch=True,
        ),
        Param("arms", 2, "Number of arms per bandit (dependent arms exist only for 2)", low=2, high=10),
        Param("pulls", 100, "Pulls per episode: the horizon the agent must learn to explore within", low=5, high=100),
        Param("hidden", 32, "LSTM units: the agent's working memory", low=4, high=256),
        Param(
            "batch",
            512,
            "Episodes played in parallel per update: batch / group bandits, each played group times",
            low=8,
            high=4096,
        ),
        Param(
            "group",
            8,
            "Copies of each bandit per update, with different luck; each copy's baseline is the "
            "others' mean return (must divide batch)",
            low=2,
            high=64,
        ),
        Param(
            "updates",
            220,
            "Number of updates: one batch of full episodes each, reused for `epochs` PPO passes",
            low=1,
            high=100_000,
            branch=True,
        ),
        Param(
            "lr",
            3e-3,
            "Adam learning rate at the start of training (decays linearly to zero)",
            low=1e-5,
            high=1e-1,
            live=True,
            log_scale=True,
        ),
        Param(
            "entropy_coef",
            0.05,
            "Entropy bonus at the start of training (decays linearly to zero)",
            low=0.0,
            high=1.0,
            live=True,
        ),
        Param(
            "epochs",
            3,
            "PPO passes over each batch of played episodes (1, with 1 minibatch, is A2C)",
            low=1,
            high=32,
            branch=True,
        ),
        Param(
            "minibatches",
            8,
            "Minibatches per PPO epoch: gradient steps per epoch (more, smaller steps learned faster)",
            low=1,
            high=64,
            branch=True,
        ),
        Param(
            "clip",
            0.2,
            "PPO clip: how far one update may move the probability of a played pull",
            low=0.01,
            high=10.0,
            branch=True,
        ),
        Param("value_coef", 0.5, "Weight of the critic's squared error in the loss", low=0.0, high=10.0, branch=True),
        Param("gamma", 1.0, "Discount factor (regret is undiscounted, so close to 1)", low=0.5, high=1.0, branch=True),
        Param(
            "gae_lambda",
            1.0,
            "GAE lambda: 1 = Monte Carlo returns, lower trades bias for variance",
            low=0.0,
            high=1.0,
            branch=True,
        ),
        Param("max_grad_norm", 1.0, "Gradient norm clip", low=0.01, high=100.0, branch=True),
        Param("reward_input", True, "Feed the previous reward to the agent (off = the paper's ablation)"),
        Param("eval_episodes", 10_000, "Held-out bandits for the final evaluation", low=10, high=20_000, branch=True),
        Param("eval_every", 50, "Updates between live evaluations", low=1, high=100_000, branch=True),
        Param(
            "live_eval_episodes",
            500,
            "Held-out bandits in each live evaluation (fewer than the final one's: it runs while the agent trains)",
            low=10,
            high=20_000,
            branch=True,
        ),
        Param(
            "bench_tasks",
            "independent,dependent",
            "Comma-separated tasks that `bench` trains and evaluates, each with one agent",
            in_ui=False,
        ),
        Param("seed", 0, "Random seed: a run is reproducible from its config", low=0, high=2**31 - 1),
    ),
    presets={
        "quick": {},
        "paper": {"batch": 256, "updates": 20_000, "lr": 5e-4, "eval_every": 1000},
    },
    check=check,
)
