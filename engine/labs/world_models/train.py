"""World Models' iterative training (Ha & Schmidhuber 2018, section 5), every stage live:

    for each round:  collect real rollouts (random actions first, then C plus exploration)
                     V: minimise  sum_pixels (x - x_hat)^2 + max(KL(q(z|x) || N(0, I)), free_bits * z_size)
                     M: minimise  -log P(z_{t+1} | z_t, a_t, h_t) + BCE(done) + (r_t - r_hat_t)^2
                     C: CMA-ES maximising the mean dream return at temperature tau, never touching the real game
                     evaluate C in the real game

Metric steps count per kind: V epochs, M epochs and CMA generations across rounds; real scores per round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cma
import numpy as np
import torch
from torch.nn import functional as F

from engine.labs.world_models import dream
from engine.labs.world_models.config import parse_taus
from engine.labs.world_models.dream import World
from engine.labs.world_models.envs import make_env
from engine.labs.world_models.mdn_rnn import mdn_loss
from engine.labs.world_models.vae import to_tensor, to_uint8, vae_loss

if TYPE_CHECKING:  # labs sit below the runtime: the context's interface is only needed for type hints
    from engine.runtime.context import Context

STAGES = {"collect": 0.15, "V": 0.3, "M": 0.2, "C": 0.25, "evaluate": 0.1}  # shares of a round's progress bar
GRAD_CLIP = 1.0  # the paper's gradient clip for M
ENVS_AT_ONCE = 32  # real episodes played in lockstep, so V and M see them as one batch
RECON_FRAMES = 8
COLLECT_STREAM, CMA_STREAM, EVAL_STREAM, RANDOM_STREAM = 0, 1, 2, 3


class Stopped(Exception):
    """The visitor pressed Stop: unwind to train(), which keeps what was learnt."""


def keep_going(ctx: Context) -> None:
    if not ctx.poll():
        raise Stopped


def seed_of(config: dict[str, Any], stream: int, index: int) -> int:
    """Independent seeds from one config seed: evaluation never replays a training episode."""
    return int(np.random.default_rng([stream, index, config["seed"]]).integers(2**31))


@dataclass
class Episode:
    frames: np.ndarray  # uint8 (T+1, 64, 64, C): the first frame and the frame after each step
    actions: np.ndarray  # (T,) int64 or (T, A) float32
    rewards: np.ndarray  # float32 (T,)
    terminated: bool  # the last step ended the game (not a time limit)

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass
class Progress:
    """Maps a fraction of one stage of one round onto the whole run's progress bar."""

    ctx: Context
    rounds: int
    round: int = 1
    stage: str = "collect"
    label: str = "round"  # the bench's sweep counts temperatures instead

    def __call__(self, fraction: float) -> None:
        names = list(STAGES)
        before = sum(STAGES[name] for name in names[: names.index(self.stage)])
        overall = (self.round - 1 + before + STAGES[self.stage] * min(fraction, 1.0)) / self.rounds
        self.ctx.progress(overall, f"{self.label} {self.round}: {self.stage}")


# ---------------------------------------------------------------------------------------------- the real game


@torch.no_grad()
def play_real(
    config: dict[str, Any], world: World, params: torch.Tensor | None, episodes: int, max_steps: int,
    exploration: float, seed: int, ctx: Context, progress: Progress | None = None,
) -> list[Episode]:
    """Real episodes under C (params (n_params,)), or uniformly random actions when params is None.

    C sees [z, h] as in the dream: z = V's mean for the frame, h = M's memory of the episode so far.
    """
    rng = np.random.default_rng(seed)
    played: list[Episode] = []
    while len(played) < episodes:
        count = min(ENVS_AT_ONCE, episodes - len(played))
        envs = [make_env(config["env"], int(rng.integers(2**31))) for _ in range(count)]
        frames = [[env.reset()[0]] for env in envs]
        actions: list[list] = [[] for _ in envs]
        rewards: list[list[float]] = [[] for _ in envs]
        alive, terminated = [True] * len(envs), [False] * len(envs)
        lstm, hidden = world.rnn.initial_state(len(envs)), torch.zeros(len(envs), world.rnn.hidden)
        for _ in range(max_steps):
            keep_going(ctx)
            random_actions = [env.action_space.sample() for env in envs]
            if params is None:
                chosen = random_actions
            else:
                z, _ = world.vae.encode(to_tensor(np.stack([f[-1] for f in frames])))
                greedy = world.controller.act(params.unsqueeze(0), torch.cat([z, hidden], -1).unsqueeze(0))[0]
                explore = rng.random(len(envs)) < exploration
                chosen = [random if flip else action.numpy() for random, action, flip in
                          zip(random_actions, greedy, explore)]
                taken = torch.as_tensor(np.stack(chosen))
                _, out, lstm = world.rnn(z.unsqueeze(1), world.controller.action_vectors(taken).unsqueeze(1), lstm)
                hidden = out.squeeze(1)
            for i, env in enumerate(envs):
                if alive[i]:
                    frame, reward, terminated[i], truncated, _ = env.step(chosen[i])
                    frames[i].append(frame)
                    actions[i].append(chosen[i])
                    rewards[i].append(float(reward))
                    alive[i] = not (terminated[i] or truncated)
            if not any(alive):
                break
        for env in envs:
            env.close()
        played += [Episode(np.stack(f), np.stack(a), np.array(r, np.float32), t)
                   for f, a, r, t in zip(frames, actions, rewards, terminated)]
        if progress:
            progress(len(played) / episodes)
    return played


def scores(episodes: list[Episode]) -> np.ndarray:
    return np.array([episode.rewards.sum() for episode in episodes])


# ---------------------------------------------------------------------------------------------- V


def train_vae(world: World, frames: np.ndarray, config: dict[str, Any], ctx: Context, progress: Progress,
              epoch_offset: int, generator: torch.Generator) -> dict[str, float]:
    optimizer = torch.optim.Adam(world.vae.parameters(), lr=ctx.params["vae_lr"])
    epochs, batch = config["vae_epochs"], config["vae_batch"]
    for epoch in range(epochs):
        totals = np.zeros(3)
        # consecutive frames are near copies: an epoch is a fresh random subset of at most vae_frames of them
        order = torch.randperm(len(frames), generator=generator)[: config["vae_frames"]].numpy()
        starts = range(0, len(order), batch)
        for i, start in enumerate(starts):
            keep_going(ctx)
            for group in optimizer.param_groups:
                group["lr"] = ctx.params["vae_lr"]
            x = to_tensor(frames[order[start : start + batch]])
            reconstruction, mu, logvar = world.vae(x)
            loss, reconstruction_loss, kl = vae_loss(reconstruction, x, mu, logvar, config["free_bits"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += np.array([loss.item(), reconstruction_loss.item(), kl.item()]) * len(x)
            progress((epoch + (i + 1) / len(starts)) / epochs)
        vae, recon, kl = (totals / len(order)).tolist()
        ctx.log(epoch_offset + epoch + 1, vae_loss=vae, recon_loss=recon, kl=kl)
    return {"vae_loss": vae, "recon_loss": recon, "kl": kl}


@torch.no_grad()
def encode_episodes(world: World, episodes: list[Episode]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mu, logvar) of every frame of every episode, each (T+1, z_size)."""
    return [world.vae.encode(to_tensor(episode.frames)) for episode in episodes]


def recon_snapshot(world: World, frames: np.ndarray, generator: torch.Generator) -> dict[str, np.ndarray]:
    pick = torch.randint(len(frames), (RECON_FRAMES,), generator=generator).numpy()
    with torch.no_grad():
        mu, _ = world.vae.encode(to_tensor(frames[pick]))
        reconstructions = to_uint8(world.vae.decode(mu)).numpy()
    return {"frames": viewable(frames[pick]), "reconstructions": viewable(reconstructions)}


def viewable(frames: np.ndarray) -> np.ndarray:
    """Frames for the viewer: (n, 64, 64) for one channel, (n, 64, 64, 3) for RGB."""
    return frames[..., 0] if frames.shape[-1] == 1 else frames


# ---------------------------------------------------------------------------------------------- M


@dataclass
class SequenceBatch:
    """Episodes of similar length padded to a common T, ready for M."""

    mu: torch.Tensor  # (B, T+1, z) V's posterior for every frame
    logvar: torch.Tensor  # (B, T+1, z)
    actions: torch.Tensor  # (B, T, A)
    rewards: torch.Tensor  # (B, T)
    done: torch.Tensor  # (B, T) 1 on the step that ended the game
    mask: torch.Tensor  # (B, T) 1 on real steps, 0 on padding


def sequence_batches(world: World, episodes: list[Episode], latents: list, batch: int) -> list[SequenceBatch]:
    """Sort by length then cut into batches, so that padding wastes little of M's time."""
    order = np.argsort([len(e) for e in episodes])
    batches = []
    for start in range(0, len(order), batch):
        chosen = order[start : start + batch]
        steps = max(len(episodes[i]) for i in chosen)
        padded = {name: [] for name in ("mu", "logvar", "actions", "rewards", "done", "mask")}
        for i in chosen:
            episode, (mu, logvar), pad = episodes[i], latents[i], steps - len(episodes[i])
            padded["mu"].append(F.pad(mu, (0, 0, 0, pad)))
            padded["logvar"].append(F.pad(logvar, (0, 0, 0, pad)))
            vectors = world.controller.action_vectors(torch.as_tensor(episode.actions))
            padded["actions"].append(F.pad(vectors, (0, 0, 0, pad)))
            padded["rewards"].append(F.pad(torch.as_tensor(episode.rewards), (0, pad)))
            done = torch.zeros(len(episode))
            done[-1] = float(episode.terminated)
            padded["done"].append(F.pad(done, (0, pad)))
            padded["mask"].append(F.pad(torch.ones(len(episode)), (0, pad)))
        batches.append(SequenceBatch(**{name: torch.stack(values) for name, values in padded.items()}))
    return batches


def train_rnn(world: World, batches: list[SequenceBatch], config: dict[str, Any], ctx: Context,
              progress: Progress, epoch_offset: int, generator: torch.Generator) -> dict[str, float]:
    optimizer = torch.optim.Adam(world.rnn.parameters(), lr=ctx.params["rnn_lr"])
    epochs = config["rnn_epochs"]
    pos_weight = torch.tensor(config["done_weight"])
    for epoch in range(epochs):
        totals, steps = np.zeros(4), 0.0
        for i, b in enumerate(torch.randperm(len(batches), generator=generator).tolist()):
            keep_going(ctx)
            for group in optimizer.param_groups:
                group["lr"] = ctx.params["rnn_lr"]
            batch = batches[b]
            # a fresh sample of every z each epoch, as in the paper: M learns V's uncertainty too
            z = batch.mu + torch.randn(batch.mu.shape, generator=generator) * (0.5 * batch.logvar).exp()
            prediction, _, _ = world.rnn(z[:, :-1], batch.actions)
            mixture = mdn_loss(prediction, z[:, 1:], batch.mask)
            done = (F.binary_cross_entropy_with_logits(prediction.done_logit, batch.done, pos_weight=pos_weight,
                                                       reduction="none") * batch.mask).sum() / batch.mask.sum()
            reward = ((prediction.reward - batch.rewards).pow(2) * batch.mask).sum() / batch.mask.sum()
            loss = mixture + done + reward
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(world.rnn.parameters(), GRAD_CLIP)
            optimizer.step()
            weight = batch.mask.sum().item()
            totals += np.array([loss.item(), mixture.item(), done.item(), reward.item()]) * weight
            steps += weight
            progress((epoch + (i + 1) / len(batches)) / epochs)
        rnn, mixture_loss, done_loss, reward_loss = (totals / steps).tolist()
        ctx.log(epoch_offset + epoch + 1, rnn_loss=rnn, mdn_loss=mixture_loss, done_loss=done_loss,
                reward_loss=reward_loss)
    return {"rnn_loss": rnn, "mdn_loss": mixture_loss, "done_loss": done_loss, "reward_loss": reward_loss}


# ---------------------------------------------------------------------------------------------- C


def train_controller(world: World, config: dict[str, Any], ctx: Context, progress: Progress, generation_offset: int,
                     seed: int, temperature: float | None = None, start: torch.Tensor | None = None) -> torch.Tensor:
    """CMA-ES on C's flat parameters, fitness = mean dream return, searching around `start` (default zero).
    temperature None: the live ctx value, read again before every generation; a number: fixed (the bench's sweep)."""
    generator = torch.Generator().manual_seed(seed)
    mean = np.zeros(world.controller.n_params) if start is None else start.numpy()
    strategy = cma.CMAEvolutionStrategy(mean, config["cma_sigma"],
                                        {"popsize": config["cma_popsize"], "seed": seed + 1, "verbose": -9})
    generations = config["cma_generations"]
    for generation in range(1, generations + 1):
        keep_going(ctx)
        tau = ctx.params["temperature"] if temperature is None else temperature
        candidates = strategy.ask()
        fitness = dream.dream_returns(world, torch.as_tensor(np.stack(candidates), dtype=torch.float32),
                                      config["dream_episodes"], config["dream_length"], tau, generator).mean(1).numpy()
        strategy.tell(candidates, (-fitness).tolist())  # pycma minimises
        step = generation_offset + generation
        ctx.log(step, fitness_best=fitness.max(), fitness_mean=fitness.mean(), fitness_worst=fitness.min(),
                cma_temperature=tau, cma_sigma=strategy.sigma)
        ctx.snapshot("cma", step, {"fitness": np.sort(fitness)[::-1].astype(np.float32),
                                   "temperature": np.float32(tau), "generation": np.int64(step)})
        progress(generation / generations)
    return torch.as_tensor(strategy.result.xfavorite, dtype=torch.float32)  # the distribution's mean


# ---------------------------------------------------------------------------------------------- evaluation


def dream_snapshot(world: World, params: torch.Tensor, config: dict[str, Any], temperature: float, seed: int,
                   ctx: Context) -> dict[str, np.ndarray]:
    """A real episode under C and a dream from the same first frame under the same C, side by side."""
    real = play_real(config, world, params, 1, config["dream_length"], 0.0, seed, ctx)[0]
    with torch.no_grad():
        first_z, _ = world.vae.encode(to_tensor(real.frames[:1]))
    generator = torch.Generator().manual_seed(seed)
    dreamt = dream.dream_rollout(world, params, first_z[0], config["dream_length"], temperature, generator)
    return {"dream_frames": viewable(dreamt["frames"]), "done_probability": dreamt["done_probability"],
            "real_frames": viewable(real.frames), "temperature": np.float32(temperature)}


def dream_score(world: World, params: torch.Tensor, config: dict[str, Any], temperature: float, seed: int,
                episodes: int) -> tuple[float, float]:
    """Mean and std of C's dream return at a temperature over fresh dreams."""
    generator = torch.Generator().manual_seed(seed)
    returns = dream.dream_returns(world, params.unsqueeze(0), episodes, config["dream_length"], temperature, generator)
    return returns.mean().item(), returns.std(correction=0).item()


def checkpoint_state(world: World, params: torch.Tensor, config: dict[str, Any], round_: int) -> dict[str, Any]:
    """V, M, C and the dream starts, with the config."""
    return {"vae": world.vae.state_dict(), "rnn": world.rnn.state_dict(), "controller": params,
            "start_mu": world.start_mu, "start_logvar": world.start_logvar, "config": dict(config), "round": round_}


# ---------------------------------------------------------------------------------------------- the rounds


@dataclass
class Outcome:
    world: World
    params: torch.Tensor
    summary: dict[str, float]
    stage_seconds: dict[str, float]


def run_rounds(config: dict[str, Any], ctx: Context) -> Outcome:
    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])
    env = make_env(config["env"], config["seed"])
    world = dream.build_world(config, env.observation_space.shape[-1], env.action_space)
    env.close()
    generator = torch.Generator().manual_seed(config["seed"])
    params: torch.Tensor | None = None
    episodes: list[Episode] = []
    summary: dict[str, float] = {}
    seconds = dict.fromkeys(STAGES, 0.0)
    progress = Progress(ctx, config["rounds"])

    def stage(name: str) -> float:
        progress.stage = name
        progress(0.0)
        return time.perf_counter()

    for round_ in range(1, config["rounds"] + 1):
        progress.round = round_
        started = stage("collect")
        exploration = config["exploration"] if params is not None else 0.0
        episodes += play_real(config, world, params, config["rollouts"], config["rollout_steps"], exploration,
                              seed_of(config, COLLECT_STREAM, round_), ctx, progress)
        frames = np.concatenate([episode.frames for episode in episodes])
        seconds["collect"] += time.perf_counter() - started

        started = stage("V")
        epochs = config["vae_epochs"]
        summary |= train_vae(world, frames, config, ctx, progress, (round_ - 1) * epochs, generator)
        ctx.snapshot("recon", round_ * epochs, recon_snapshot(world, frames, generator))
        seconds["V"] += time.perf_counter() - started

        started = stage("M")
        latents = encode_episodes(world, episodes)
        world.start_mu = torch.stack([mu[0] for mu, _ in latents])
        world.start_logvar = torch.stack([logvar[0] for _, logvar in latents])
        batches = sequence_batches(world, episodes, latents, config["rnn_batch"])
        summary |= train_rnn(world, batches, config, ctx, progress, (round_ - 1) * config["rnn_epochs"], generator)
        seconds["M"] += time.perf_counter() - started

        started = stage("C")
        generations = config["cma_generations"]
        # each round refines the last round's C: V and M keep training, so its features keep their meaning
        params = train_controller(world, config, ctx, progress, (round_ - 1) * generations,
                                  seed_of(config, CMA_STREAM, round_), start=params)
        seconds["C"] += time.perf_counter() - started

        started = stage("evaluate")
        summary |= evaluate_controller(world, params, config, ctx, round_)
        seconds["evaluate"] += time.perf_counter() - started
    return Outcome(world, params, summary, seconds)


def evaluate_controller(world: World, params: torch.Tensor, config: dict[str, Any], ctx: Context,
                        round_: int) -> dict[str, float]:
    """C's score in the real game and in the dream at the current temperature; the dream viewer's snapshot; a
    checkpoint."""
    temperature = ctx.params["temperature"]
    real = scores(play_real(config, world, params, config["real_eval_episodes"], 10**9, 0.0,
                            seed_of(config, EVAL_STREAM, round_), ctx))
    dreamt, _ = dream_score(world, params, config, temperature, seed_of(config, EVAL_STREAM, round_),
                            config["real_eval_episodes"])
    ctx.log(round_, real_score=real.mean(), real_score_std=real.std(), dream_score=dreamt)
    ctx.snapshot("dream", round_, dream_snapshot(world, params, config, temperature,
                                                seed_of(config, EVAL_STREAM, round_), ctx))
    ctx.checkpoint(checkpoint_state(world, params, config, round_))
    return {"real_score": float(real.mean()), "real_score_std": float(real.std()), "dream_score": dreamt,
            "rounds_done": float(round_)}


def controller_only(config: dict[str, Any], ctx: Context) -> dict[str, float]:
    """The τ table's job: V and M come from `world_from` (one world shared by every temperature, so the table
    compares temperatures and nothing else); only C is trained, in their dream at `temperature`, then scored."""
    torch.set_num_threads(1)
    world, _ = dream.load_world(torch.load(config["world_from"], map_location="cpu", weights_only=True))
    progress = Progress(ctx, rounds=1, stage="C")
    started = time.perf_counter()
    params = train_controller(world, config, ctx, progress, 0, seed_of(config, CMA_STREAM, 1))
    c_seconds = time.perf_counter() - started
    progress.stage = "evaluate"
    progress(0.0)
    return evaluate_controller(world, params, config, ctx, 1) | {"C_seconds": c_seconds}


def train(config: dict[str, Any], ctx: Context) -> dict[str, float]:
    try:
        if config["world_from"]:
            summary = controller_only(config, ctx)
            ctx.progress(1.0, "done")
            return summary | {"stopped": 0.0}
        outcome = run_rounds(config, ctx)
    except Stopped:
        return {"stopped": 1.0}
    ctx.progress(1.0, "done")
    return outcome.summary | {f"{name}_seconds": s for name, s in outcome.stage_seconds.items()} | {"stopped": 0.0}


def bench(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The whole pipeline, then one controller per temperature in `taus` (CMA-ES in the final world), each scored
    in its own dream and over `real_eval_episodes` real episodes, beside a random policy."""
    taus = parse_taus(config["taus"])
    outcome = run_rounds(config, ctx)
    world, n = outcome.world, config["real_eval_episodes"]
    random = scores(play_real(config, world, None, n, 10**9, 0.0, seed_of(config, RANDOM_STREAM, 0), ctx))
    progress = Progress(ctx, len(taus), stage="C", label="tau")
    sweep = []
    for index, tau in enumerate(taus):
        progress.round = index + 1
        started = time.perf_counter()
        generation_offset = (config["rounds"] + index) * config["cma_generations"]  # after the rounds' generations
        params = train_controller(world, config, ctx, progress, generation_offset,
                                  seed_of(config, CMA_STREAM, 1000 + index), temperature=tau)
        cma_seconds = time.perf_counter() - started
        dream_mean, dream_std = dream_score(world, params, config, tau, seed_of(config, EVAL_STREAM, 1000 + index), n)
        real = scores(play_real(config, world, params, n, 10**9, 0.0, seed_of(config, EVAL_STREAM, 1000 + index),
                                ctx))
        sweep.append({"tau": tau, "dream_mean": round(dream_mean, 1), "dream_std": round(dream_std, 1),
                      "real_mean": round(float(real.mean()), 1), "real_std": round(float(real.std()), 1),
                      "cma_seconds": round(cma_seconds, 1), "seconds": round(time.perf_counter() - started, 1)})
    return {
        "stage_seconds": {name: round(s, 1) for name, s in outcome.stage_seconds.items()},
        "losses": {name: round(outcome.summary[name], 4) for name in
                   ("recon_loss", "kl", "mdn_loss", "done_loss", "reward_loss")},
        "pipeline": {name: round(outcome.summary[name], 1) for name in ("real_score", "real_score_std", "dream_score")},
        "random": {"real_mean": round(float(random.mean()), 1), "real_std": round(float(random.std()), 1)},
        "taus": sweep,
    }
