"""PPO over a distribution of bandits (Wang et al. 2016; Duan et al. 2016), then frozen-weight evaluation.

Each update draws `batch / group` fresh bandits, plays each one `group` times (same arms, different luck)
for a whole episode with the current policy, then takes `epochs` passes of minibatch steps on the clipped
PPO loss (see `ppo_update`), with A_t from generalised advantage estimation over the unrolled episode, minus
the mean advantage of the other copies of the same bandit at the same pull (a leave-one-out group baseline,
as in RLOO / GRPO). With one epoch of one minibatch this is A2C, which the lab used first: it learned less
per played episode and, late in training, one bad step could collapse it onto always pulling one arm.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.context import Stopped, random_state, restore_random_state
from engine.labs.meta_rl import agent, evaluate
from engine.labs.meta_rl.bandits import TASKS, check_arms, instant_regret, sample_probs
from engine.labs.meta_rl.config import SPACE, Config
from engine.params import ConfigError

if TYPE_CHECKING:
    from engine.context import Context

TRAIN_SHARE = 0.9  # of the progress bar; the final evaluation takes the rest


def advantages_and_returns(
    rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE: A_t = sum_k (gamma lam)^k delta_{t+k}, delta_t = r_t + gamma V_{t+1} - V_t; V after the last pull = 0."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    next_value = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages + values


def leave_one_out(advantages: torch.Tensor, group: int) -> torch.Tensor:
    """A_i - mean_{j != i} A_j over the `group` consecutive copies of each bandit, per pull.

    How good a bandit is (a close pair of arms costs far more regret than a clear one) dominates the
    variance of the return, and a critic that only sees the agent's history cannot know it early on.
    The other copies played the same arms, and their luck is independent of copy i's actions, so
    subtracting their mean cancels the bandit's difficulty and keeps the policy gradient unbiased.
    """
    copies = advantages.reshape(-1, group, advantages.shape[1])
    others = (copies.sum(dim=1, keepdim=True) - copies) / (group - 1)
    return (copies - others).reshape(advantages.shape)


def collect(
    model: agent.ActorCritic, config: Config, rng: np.random.Generator, generator: torch.Generator
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Play one batch of episodes with the current policy; return what the PPO epochs reuse, and its stats."""
    bandits = sample_probs(config.task, config.arms, config.batch // config.group, rng)
    probs = np.repeat(bandits, config.group, axis=0)  # copies of a bandit are consecutive rows
    uniforms = rng.random((config.batch, config.pulls, config.arms), dtype=np.float32)
    episodes = agent.play(model, probs, uniforms, generator)
    actions = torch.from_numpy(episodes.actions)
    regret = np.stack([instant_regret(probs, episodes.actions[:, t]) for t in range(config.pulls)], axis=1)
    # Learning signal: -regret_t = p_{a_t} - max_i p_i instead of the sampled 0/1 reward. The expected reward
    # removes the coin-flip noise and max_i p_i is a per-bandit constant that no action can change, so the
    # policy gradient stays unbiased with less variance. The agent's *input* is still the sampled reward.
    learning_signal = -torch.from_numpy(regret).float()

    with torch.no_grad():  # the played episodes again, in one fused LSTM call (same inputs => same policy)
        logits, values, _ = model(episodes.obs)
    advantages, returns = advantages_and_returns(learning_signal, values, config.gamma, config.gae_lambda)
    advantages = leave_one_out(advantages, config.group)
    advantages = advantages / (advantages.std() + 1e-8)  # already centred per bandit and pull
    rollout = {
        "obs": episodes.obs,
        "actions": actions,
        "log_probs": torch.distributions.Categorical(logits=logits).log_prob(actions),
        "advantages": advantages,
        "returns": returns,
    }
    stats = {"reward": float(episodes.rewards.sum(axis=1).mean()), "regret": float(regret.sum(axis=1).mean())}
    return rollout, stats


def ppo_update(
    model: agent.ActorCritic,
    optimizer: torch.optim.Optimizer,
    rollout: dict[str, torch.Tensor],
    config: Config,
    entropy_coef: float,
    generator: torch.Generator,
) -> dict[str, float]:
    """`epochs` passes over the rollout in `minibatches` shuffled minibatches of whole episodes, each one step on

        L = -E[min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)] + c_v E[(R_t - V(h_t))^2] - c_H E[H(pi(.|h_t))],

    rho_t = pi(a_t|h_t) / pi_old(a_t|h_t). The clip removes the incentive to move a pull's probability more than
    eps away from the policy that played it, so reusing the episodes cannot run off into a collapsed policy.
    With epochs = minibatches = 1, rho = 1 and this is exactly A2C.
    """
    batch = len(rollout["actions"])
    for _ in range(config.epochs):
        for index in torch.randperm(batch, generator=generator).chunk(config.minibatches):
            logits, values, _ = model(rollout["obs"][index])
            dist = torch.distributions.Categorical(logits=logits)
            ratio = torch.exp(dist.log_prob(rollout["actions"][index]) - rollout["log_probs"][index])
            advantages = rollout["advantages"][index]
            clipped = torch.clamp(ratio, 1 - config.clip, 1 + config.clip)
            policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
            value_loss = 0.5 * (rollout["returns"][index] - values).pow(2).mean()
            entropy = dist.entropy().mean()
            loss = policy_loss + config.value_coef * value_loss - entropy_coef * entropy

            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
    return {"loss": loss.item(), "entropy": entropy.item(), "value_loss": value_loss.item()}  # last minibatch


def checkpoint_state(
    model: agent.ActorCritic,
    optimizer: torch.optim.Optimizer,
    config: Config,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> dict[str, Any]:
    """The weights and the config (what a viewer needs); Adam's moments and every random generator's state (what a
    resumed run needs to continue exactly as if it had never stopped)."""
    return {
        "model": model.state_dict(),
        "config": asdict(config),
        "optimizer": optimizer.state_dict(),
        "random": random_state(rng, generator),
    }


def report_evaluation(
    ctx: Context,
    step: int,
    model: agent.ActorCritic,
    config: Config,
    episodes: int,
    baseline_curves: dict[str, evaluate.RegretCurve],
) -> dict[str, evaluate.RegretCurve]:
    """Evaluate the frozen agent; send the regret curves, one explored episode and a metric."""
    curves = {"agent": evaluate.evaluate_agent(model, config, episodes)} | baseline_curves
    ctx.snapshot("regret", step, evaluate.regret_snapshot(curves))
    ctx.snapshot("episode", step, evaluate.explore_episode(model, config))
    ctx.log(step, eval_regret=curves["agent"].final)
    return curves


def train(values: dict[str, Any], ctx: Context) -> dict[str, float]:
    torch.set_num_threads(1)
    config = SPACE.typed(values)  # checked: a task with arms it does not have fails here
    started = time.perf_counter()
    rng = evaluate.stream(config.seed, evaluate.TRAIN_STREAM)
    torch.manual_seed(config.seed)
    generator = evaluate.torch_generator(rng)
    model = agent.ActorCritic(config.arms, config.hidden, config.reward_input)
    optimizer = torch.optim.Adam(model.parameters(), lr=ctx.live(config).lr)
    live_episodes = min(config.live_eval_episodes, config.eval_episodes)
    live_baselines = evaluate.evaluate_baselines(config, live_episodes)
    done = 0
    if ctx.resume:  # continue after the checkpoint's update, as if training had never stopped
        model.load_state_dict(ctx.resume.state["model"])
        optimizer.load_state_dict(ctx.resume.state["optimizer"])
        restore_random_state(ctx.resume.state["random"], rng, generator)
        done = ctx.resume.step

    def save() -> None:
        ctx.checkpoint(checkpoint_state(model, optimizer, config, rng, generator), step=done, stage="training")

    updates = config.updates
    try:
        for update in range(done + 1, updates + 1):
            ctx.keep_going()
            # Linear decay to zero of both the step size (a noisy policy gradient only settles with a shrinking
            # step) and the entropy bonus (explore early, commit late); the live sliders set the starting heights.
            remaining, live = 1 - (update - 1) / updates, ctx.live(config)
            lr = live.lr * remaining
            for group in optimizer.param_groups:
                group["lr"] = lr
            entropy_coef = live.entropy_coef * remaining
            rollout, stats = collect(model, config, rng, generator)
            ctx.log(update, lr=lr, **stats, **ppo_update(model, optimizer, rollout, config, entropy_coef, generator))
            ctx.progress(TRAIN_SHARE * update / updates, "training")
            done = update
            if update % config.eval_every == 0 and update < updates:
                report_evaluation(ctx, update, model, config, live_episodes, live_baselines)
                save()
            elif ctx.checkpoint_due():
                save()
    except Stopped:
        pass  # stopped: done < updates, kept below
    train_seconds = time.perf_counter() - started

    summary = {"updates_done": float(done), "train_seconds": train_seconds}
    if done < updates:  # stopped: keep everything to resume from, skip the long evaluation
        save()
        return summary | {"stopped": 1.0}
    ctx.progress(TRAIN_SHARE, "evaluating")
    final_baselines = evaluate.evaluate_baselines(config, config.eval_episodes)
    curves = report_evaluation(ctx, done, model, config, config.eval_episodes, final_baselines)
    save()
    ctx.progress(1.0, "done")
    for name, curve in curves.items():
        summary[f"{name}_regret"], summary[f"{name}_regret_se"] = curve.final, curve.final_se
    return summary | {"stopped": 0.0}


def bench_tasks(names: str, arms: int) -> list[str]:
    tasks = [task.strip() for task in names.split(",") if task.strip()]
    unknown = [task for task in tasks if task not in TASKS]
    if not tasks or unknown:
        raise ConfigError(f"bench_tasks: {names!r} must list tasks from {', '.join(TASKS)}")
    for task in tasks:
        check_arms(task, arms)
    return tasks


def bench(values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Train one agent per task in `bench_tasks` and evaluate it with `eval_episodes` held-out bandits.

    Returns {"tasks": {task: {"train_seconds": s, "regret": {method: {"mean": m, "se": se}}}}}, regret at the last pull.
    """
    config, results = SPACE.typed(values), {}
    for task in bench_tasks(config.bench_tasks, config.arms):
        summary = train(values | {"task": task}, ctx)
        if summary["stopped"]:
            break
        methods = [key.removesuffix("_regret") for key in summary if key.endswith("_regret")]
        results[task] = {
            "train_seconds": round(summary["train_seconds"], 1),
            "regret": {m: {"mean": summary[f"{m}_regret"], "se": summary[f"{m}_regret_se"]} for m in methods},
        }
    return {"tasks": results}
