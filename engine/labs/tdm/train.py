"""Train a TDM and, step for step beside it, the DDPG baseline on the same room, networks and budget.

Each environment step, every learner acts in its own env (τ counting down to 0 and starting again at τ_max,
evaluate.countdown), stores the transition, and takes `updates_per_step` updates on relabelled batches
(goal and τ: buffer.relabel). Every `eval_every` steps both play the held-out start-goal pairs, the TDM's
reachability heatmaps for the layout's first start are snapshot, and a checkpoint holds both learners; all three read
the learners through their Polyak-averaged networks (Learner.averaged).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.context import Stopped, random_state, restore_random_state
from engine.labs.tdm import evaluate
from engine.labs.tdm.agent import Learner
from engine.labs.tdm.buffer import TrajectoryBuffer
from engine.labs.tdm.config import SPACE, Config, bench_layouts
from engine.labs.tdm.envs import LAYOUTS, PointMassEnv

if TYPE_CHECKING:
    from engine.context import Context


@dataclass
class Player:
    """A learner with its own env, replay buffer and place in the current episode."""

    learner: Learner
    env: PointMassEnv
    buffer: TrajectoryBuffer
    observation: dict = field(default_factory=dict)
    t: int = 0  # step within the episode
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (env step, success, final distance)

    def play_one_step(self, config: Config, rng: np.random.Generator, explore_only: bool) -> None:
        if self.t == 0:
            self.observation, _ = self.env.reset(seed=int(rng.integers(2**31)))
            self.buffer.begin(self.observation["observation"], self.observation["desired_goal"])
        if explore_only:
            action = rng.uniform(-1, 1, 2)
        else:
            tau = np.array([evaluate.countdown(self.t, config.episode_steps, config.tau_max)], dtype=float)
            action = self.learner.act(
                self.observation["observation"][None], self.observation["desired_goal"][None], tau
            )[0]
            action = np.clip(action + config.noise * rng.standard_normal(2), -1, 1)
        self.observation, _, _, truncated, _ = self.env.step(action)
        self.buffer.add(action, self.observation["observation"])
        self.t = 0 if truncated else self.t + 1

    def state(self) -> dict[str, Any]:
        """Where this player is: its learner, its replay, its env's point and goal, its step in the episode."""
        return {
            "learner": self.learner.training_state(),
            "buffer": self.buffer.state(),
            "t": self.t,
            "env": torch.tensor([*self.env.position, *self.env.goal, self.env.steps], dtype=torch.float64),
            "curve": torch.tensor(self.curve, dtype=torch.float64),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.learner.load_training_state(state["learner"])
        self.buffer.load_state(state["buffer"])
        env = state["env"].numpy()
        self.env.position, self.env.goal, self.env.steps = env[:2].copy(), env[2:4].copy(), int(env[4])
        self.observation = self.env.observation()
        self.t = state["t"]
        self.curve = [tuple(row) for row in state["curve"].tolist()]

    def learn(self, config: Config, rng: np.random.Generator) -> dict[str, float]:
        losses = {}
        walls = LAYOUTS[config.layout].walls
        for _ in range(config.updates_per_step):
            batch = self.buffer.sample(
                config.batch, rng, config.future_goals, config.random_goals, self.learner.actor.tau_max, walls
            )  # 0 for DDPG: no horizon to relabel
            losses = self.learner.update(batch, config.actor_lr, config.critic_lr)
        return losses


def make_players(config: Config) -> dict[str, Player]:
    methods = ["tdm", "ddpg"] if config.baseline else ["tdm"]
    return {
        method: Player(
            Learner(method, config),
            PointMassEnv(config.layout, config.max_step, config.episode_steps, config.radius),
            TrajectoryBuffer(config.buffer_episodes, config.episode_steps),
        )
        for method in methods
    }


def checkpoint_state(players: dict[str, Player], config: Config, rng: np.random.Generator) -> dict[str, Any]:
    """Both learners' averaged weights, the config and the learning curves (what a viewer needs: a bundled
    checkpoint shows them too); every player's whole state and the random generators (what a resumed run needs)."""
    state: dict[str, Any] = {method: player.learner.state_dict() for method, player in players.items()}
    state |= {f"{method}_curve": torch.tensor(player.curve, dtype=torch.float64) for method, player in players.items()}
    return state | {
        "config": asdict(config),
        "players": {method: player.state() for method, player in players.items()},
        "random": random_state(rng),
    }


def report(ctx: Context, step: int, players: dict[str, Player], config: Config) -> None:
    scalars = {}
    for method, player in players.items():
        result = evaluate.goal_reaching(player.learner.averaged(), config)
        player.curve.append((step, result["success"], result["final_distance"]))
        scalars |= {f"{method}_{name}": value for name, value in result.items()}
    ctx.log(step, **scalars)
    start = np.array(LAYOUTS[config.layout].starts[0])
    ctx.snapshot(
        "heatmap",
        step,
        {
            "start": start,
            "distance": evaluate.predicted_distances(players["tdm"].learner.averaged(), start, config.tau_max).astype(
                np.float32
            ),
        },
    )


def steps_to(curve: list[tuple[int, float, float]], mark: float) -> int | None:
    """The first evaluation's env step at which the success rate reached `mark`, or None."""
    return next((int(step) for step, success, _ in curve if success >= mark), None)


def run(config: Config, ctx: Context) -> tuple[dict[str, Player], int, float]:
    """The training loop; returns the players, the env steps done and the training wall time."""
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng([0, config.seed])
    started = time.perf_counter()
    players = make_players(config)
    done = 0
    if ctx.resume:  # continue after the checkpoint's env step, as if training had never stopped
        for method, player in players.items():
            player.restore(ctx.resume.state["players"][method])
        restore_random_state(ctx.resume.state["random"], rng)
        done = ctx.resume.step

    def save() -> None:
        ctx.checkpoint(checkpoint_state(players, config, rng), step=done, stage="training")

    try:
        for step in range(done + 1, config.env_steps + 1):
            ctx.keep_going()
            now = ctx.live(config)  # noise, updates per step and learning rates as they are at this step
            losses = {}
            for method, player in players.items():
                player.play_one_step(now, rng, explore_only=step <= config.warmup)
                if step > config.warmup and player.buffer.transitions >= config.batch:
                    losses |= {f"{method}_{k}": v for k, v in player.learn(now, rng).items()}
            done = step
            if losses and step % 100 == 0:
                ctx.log(step, **losses)
            ctx.progress(step / config.env_steps, "training")
            if step % config.eval_every == 0 or step == config.env_steps:
                report(ctx, step, players, config)
                save()
            elif ctx.checkpoint_due():
                save()
    except Stopped:
        pass  # stopped: done < env_steps, kept below
    if done < config.env_steps:  # stopped: keep everything to resume from
        save()
    return players, done, time.perf_counter() - started


def train(values: dict[str, Any], ctx: Context) -> dict[str, float]:
    config = SPACE.typed(values)
    players, done, seconds = run(config, ctx)
    summary = {
        "env_steps_done": float(done),
        "train_seconds": round(seconds, 1),
        "stopped": float(done < config.env_steps),
    }
    for method, player in players.items():
        if player.curve:
            summary[f"{method}_success"] = player.curve[-1][1]
            summary[f"{method}_final_distance"] = round(player.curve[-1][2], 4)
    if done == config.env_steps:  # a stopped run keeps the share it reached
        ctx.progress(1.0, "done")
    return summary


def bench(values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Per layout in `bench_layouts`: train, then score the TDM's heatmaps against the exact reachability at every
    τ over the layout's starts, play `eval_pairs` held-out start-goal pairs, and find each learner's env steps to
    `success_mark`."""
    config, results = SPACE.typed(values), {}
    for layout in bench_layouts(config.bench_layouts):
        layout_config = replace(config, layout=layout)
        players, done, seconds = run(layout_config, ctx)
        if done < config.env_steps:
            break
        scoring_started = time.perf_counter()
        scores = evaluate.score_starts(players["tdm"].learner.averaged(), layout_config)
        results[layout] = {
            "train_seconds": round(seconds, 1),
            "env_steps": done,
            "success": {m: p.curve[-1][1] for m, p in players.items()},
            "final_distance": {m: round(p.curve[-1][2], 4) for m, p in players.items()},
            "steps_to_success_mark": {m: steps_to(p.curve, config.success_mark) for m, p in players.items()},
            "success_curve": {m: [[int(s), round(v, 3)] for s, v, _ in p.curve] for m, p in players.items()},
            "heatmap": scores["mean"],
            "heatmap_worst_start": _worst(scores["per_start"]),
            "iou_min": min(min(s["iou"]) for s in scores["per_start"].values()),
            "scoring_seconds": round(time.perf_counter() - scoring_started, 1),
        }
    return {"layouts": results}


def _worst(per_start: dict[str, dict[str, list]]) -> dict[str, Any]:
    """The start with the lowest mean IoU, and its scores: the start where the walls are most in the way."""
    start, scores = min(per_start.items(), key=lambda item: np.mean(item[1]["iou"]))
    return {"start": start} | {
        name: [None if v is None else round(v, 4) for v in values] for name, values in scores.items()
    }
