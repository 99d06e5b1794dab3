"""World Models' procedure (Ha & Schmidhuber 2018, section 5), every stage live:

    for each round:
        collect   real rollouts: the random policy in round 1, then C with some exploration
        V         minimise vae_loss (vae.py) on the collected frames
        M         minimise m_loss (mdn_rnn.py) on the episodes seen through V
        C         CMA-ES maximising dream_fitness (dream.py) at temperature tau, never touching the real game
        evaluate  C in the real game and in the dream; the random policy on the same real episodes

`bench` and the τ table share one world: its V and M (a run id, `world_run`), and one C per temperature.
Metric steps count per kind: V epochs, M epochs and CMA generations across rounds; real scores per round.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.context import LocalContext, Stopped, random_state, restore_random_state
from engine.labs.world_models.config import parse_taus
from engine.labs.world_models.controller import train_controller
from engine.labs.world_models.dream import World, build_world, dream_fitness, dream_returns, world_from_state
from engine.labs.world_models.envs import env_spaces, make_env
from engine.labs.world_models.facts import GAMES
from engine.labs.world_models.mdn_rnn import Sequences, death_labels, train_rnn
from engine.labs.world_models.pictures import SIDES, Pictures, make_pictures, pictures_summary
from engine.labs.world_models.probe import Probe, make_probe, probe_summary
from engine.labs.world_models.rollouts import (
    ControllerPolicy,
    Episode,
    RandomPolicy,
    mean_and_error,
    mirrored,
    play,
    scores,
)
from engine.labs.world_models.vae import Frames, to_tensor, to_uint8, train_vae
from engine.labs.world_models.viewer import viewer_due, viewer_episode, viewer_snapshot
from engine.params import ConfigError

if TYPE_CHECKING:  # labs sit below the runtime: the context's interface is only needed for type hints
    from engine.context import Context

STAGES = {"collect": 0.15, "V": 0.25, "M": 0.25, "C": 0.2, "evaluate": 0.15}  # shares of a round's progress bar
RECON_FRAMES = 8
COLLECT_STREAM, CMA_STREAM, EVAL_STREAM, DREAM_STREAM, PROBE_STREAM = 0, 1, 2, 3, 4
PICTURES_TAU = 0.1  # the second probe dreams at a low τ: the action, not the noise, decides what it shows


def seed_of(config: dict[str, Any], stream: int, index: int) -> int:
    """Independent seeds from one config seed: evaluation never replays a training episode."""
    return int(np.random.default_rng([stream, index, config["seed"]]).integers(2**31))


def device_of(config: dict[str, Any]) -> torch.device:
    """Where V, M and the dreams run: `device` cuda, or auto when torch finds a CUDA GPU; else the CPU."""
    if config["device"] == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda: torch finds no CUDA GPU on this machine; use auto or cpu")
    return torch.device("cuda" if config["device"] != "cpu" and torch.cuda.is_available() else "cpu")


@contextmanager
def on_device(module: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """A stage's heavy work on `device`; the world lives on the CPU between stages and is checkpointed from there
    (the real game, the viewer and the probe read it there)."""
    home = next(module.parameters()).device
    module.to(device)
    try:
        yield
    finally:
        module.to(home)


def env_maker(config: dict[str, Any]):
    return lambda seed: make_env(config["env"], seed, config["doom_skill"])


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

    def enter(self, stage: str) -> float:
        self.stage = stage
        self(0.0)
        return time.perf_counter()


# ---------------------------------------------------------------------------------------------- the stages


def collect(
    world: World, params: torch.Tensor | None, config: dict[str, Any], ctx: Context, round_: int, progress: Progress
) -> list[Episode]:
    """Real rollouts: the paper's random policy first, then C (exploring a little) once one exists."""
    seed, space = seed_of(config, COLLECT_STREAM, round_), world.controller.space
    policy = (
        RandomPolicy(space, config["action_repeat"], seed)
        if params is None
        else ControllerPolicy(world, params, config["exploration"], space, seed)
    )
    return play(
        env_maker(config),
        policy,
        config["rollouts"],
        seed,
        ctx.keep_going,
        config["envs_at_once"],
        config["rollout_steps"],
        progress,
    )


def fit_vision(
    world: World, episodes: list[Episode], ctx: Context, generator: torch.Generator, round_: int, progress: Progress
) -> dict[str, float]:
    """V on every collected frame."""
    epochs = ctx.params["vae_epochs"]
    frames = Frames([episode.frames for episode in episodes])
    pick = torch.randint(len(frames), (RECON_FRAMES,), generator=generator).numpy()  # the same frames each epoch

    def show_reconstructions(epoch: int) -> None:
        with on_device(world.vae, torch.device("cpu")):
            ctx.snapshot("recon", epoch, recon_snapshot(world, frames[pick]))

    with on_device(world.vae, device_of(ctx.params)):
        return train_vae(world.vae, frames, ctx, generator, progress, (round_ - 1) * epochs, show_reconstructions)


def fit_memory(
    world: World, episodes: list[Episode], ctx: Context, generator: torch.Generator, round_: int, progress: Progress
) -> dict[str, float]:
    """M on every episode seen through V (and, `mirror` on in a symmetric game, in a mirror too: as many hits again,
    and no side of the room safer than the other); the dreams will start from V's codes of the real first frames."""
    p = ctx.params
    shown, mirror = viewer_episode(episodes), GAMES[p["env"]].mirrored
    if p["mirror"] and mirror:
        episodes = episodes + [mirrored(episode, mirror) for episode in episodes]
    with torch.no_grad():
        latents = [world.vae.encode(to_tensor(episode.frames)) for episode in episodes]
    world.start_mu = torch.stack([mu[0] for mu, _ in latents])
    world.start_logvar = torch.stack([logvar[0] for _, logvar in latents])
    actions = [world.controller.action_vectors(torch.as_tensor(episode.actions)) for episode in episodes]
    deaths = [death_labels(e.damage, e.terminated, p["death_target"], p["death_horizon"]) for e in episodes]
    data = Sequences(
        [mu for mu, _ in latents],
        [logvar for _, logvar in latents],
        actions,
        [torch.as_tensor(e.rewards) for e in episodes],
        deaths,
    )
    offset = (round_ - 1) * p["rnn_updates"]

    def show_dreams(update: int) -> None:  # the viewer follows M as it learns
        if viewer_due(update, p["rnn_updates"]):
            with on_device(world.rnn, torch.device("cpu")):
                ctx.snapshot("viewer", offset + update, viewer_snapshot(world, shown, seed_of(p, DREAM_STREAM, 0)))

    with on_device(world.rnn, device_of(p)):
        return train_rnn(world.rnn, data, ctx, generator, progress, offset, show_dreams)


def new_probe(world: World, config: dict[str, Any], ctx: Context) -> Probe | None:
    """The probe's held-out states and the real outcomes there (None in a game without discrete actions)."""
    if not config["probe_episodes"] or not world.controller.discrete:
        return None
    return make_probe(
        env_maker(config),
        world.controller.space,
        GAMES[config["env"]].actions,
        config["probe_episodes"],
        config["action_repeat"],
        seed_of(config, PROBE_STREAM, 0),
        config["probe_horizon"],
        config["probe_lead"],
        ctx.keep_going,
        config["envs_at_once"],
    )


def probe_memory(
    world: World, probe: Probe | None, config: dict[str, Any], ctx: Context, step: int
) -> dict[str, np.ndarray] | None:
    """Does the dream know what moving does? M's odds beside the real game's, at every τ of the table."""
    if probe is None:
        return None
    view = probe.snapshot(
        world, parse_taus(config["taus"]), config["probe_dreams"], seed_of(config, PROBE_STREAM, step)
    )
    ctx.snapshot("probe", step, view)
    return view


def new_pictures(probe: Probe | None, config: dict[str, Any], ctx: Context) -> Pictures | None:
    """The second probe's starts, in the first probe's held-out episodes (a game with a left and a right)."""
    game = GAMES[config["env"]]
    if probe is None or not set(SIDES) <= set(game.actions):
        return None
    return make_pictures(
        env_maker(config), probe.states, game.actions, config["pictures_steps"], game.fireballs, ctx.keep_going
    )


def show_pictures(
    world: World, pictures: Pictures | None, config: dict[str, Any], ctx: Context, step: int
) -> dict[str, np.ndarray] | None:
    """Does the dream show where you went? M's dream of left and right, decoded by V, beside the game's."""
    if pictures is None:
        return None
    view = pictures.snapshot(world, PICTURES_TAU, seed_of(config, PROBE_STREAM, step))
    ctx.snapshot("pictures", step, view)
    return view


def learn_controller(
    world: World,
    config: dict[str, Any],
    ctx: Context,
    progress: Progress,
    seed: int,
    temperature: float | None = None,
    start: torch.Tensor | None = None,
    generation_offset: int = 0,
    resumed: dict[str, Any] | None = None,
    save: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[torch.Tensor, float]:
    """C by CMA-ES on dream_fitness; held out: the same `held_out_dreams` dreams for every generation's mean.
    `save` receives the search's state (with the dreams' generator) when a checkpoint is due; `resumed` continues
    one."""
    generator = torch.Generator().manual_seed(seed)
    if resumed:
        generator.set_state(resumed["generator"])

    def keep(search: dict[str, Any]) -> None:
        save(search | {"generator": generator.get_state()})

    def fitness(params: torch.Tensor, tau: float) -> torch.Tensor:
        return dream_fitness(world, params, config["dream_episodes"], config["dream_length"], tau, generator)

    def held_out(params: torch.Tensor, tau: float) -> float:
        fixed = torch.Generator().manual_seed(seed + 1)
        return dream_fitness(
            world, params.unsqueeze(0), config["held_out_dreams"], config["dream_length"], tau, fixed
        ).item()

    ceiling = config["dream_length"] if world.survival_reward else math.inf  # every dream survived to the end
    with on_device(world.rnn, device_of(config)):
        return train_controller(
            world.controller.n_params,
            fitness,
            held_out,
            ctx,
            progress,
            seed,
            temperature,
            start,
            generation_offset,
            ceiling,
            resumed,
            keep if save else None,
        )


def evaluate(
    world: World,
    params: torch.Tensor,
    config: dict[str, Any],
    ctx: Context,
    temperature: float,
    step: int,
    with_random: bool,
    probe: Probe | None,
) -> dict[str, float]:
    """C over `real_eval_episodes` real episodes and as many dreams at its temperature (mean ± standard error);
    the random policy on the same real episodes when asked; C from the probe's states, real and dreamt."""
    n, seed = config["real_eval_episodes"], seed_of(config, EVAL_STREAM, 0)  # every C plays the same episodes
    action_space = world.controller.space
    poll, slots = ctx.keep_going, config["envs_at_once"]
    real = mean_and_error(
        scores(
            play(
                env_maker(config),
                ControllerPolicy(world, params, 0.0, action_space, seed),
                n,
                seed,
                poll,
                slots,
                keep_frames=False,
            )
        )
    )
    generator = torch.Generator().manual_seed(seed_of(config, DREAM_STREAM, step))
    dreamt = mean_and_error(
        dream_returns(world, params.unsqueeze(0), n, config["dream_length"], temperature, generator)[0].numpy()
    )
    summary = {
        "real_score": real[0],
        "real_score_se": real[1],
        "dream_score": dreamt[0],
        "dream_score_se": dreamt[1],
        "temperature": temperature,
    }
    if with_random:
        random = mean_and_error(
            scores(
                play(env_maker(config), RandomPolicy(action_space, 1, seed), n, seed, poll, slots, keep_frames=False)
            )
        )
        summary |= {"random_score": random[0], "random_score_se": random[1]}
    if probe is not None:
        summary |= probe.controller(
            env_maker(config),
            poll,
            world,
            params,
            temperature,
            config["probe_dreams"],
            seed_of(config, PROBE_STREAM, step),
        )
    ctx.log(step, **summary)
    return summary


def recon_snapshot(world: World, frames: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        mu, _ = world.vae.encode(to_tensor(frames))
        reconstructions = to_uint8(world.vae.decode(mu)).numpy()
    return {"frames": viewable(frames), "reconstructions": viewable(reconstructions)}


def viewable(frames: np.ndarray) -> np.ndarray:
    """Frames for the viewer: (n, 64, 64) for one channel, (n, 64, 64, 3) for RGB."""
    return frames[..., 0] if frames.shape[-1] == 1 else frames


def checkpoint_state(world: World, params: torch.Tensor | None, config: dict[str, Any], round_: int) -> dict[str, Any]:
    """V, M (and C when there is one) with the dream starts and the config."""
    state = {"world": world.state(), "config": dict(config), "round": round_}
    return state if params is None else state | {"controller": params}


# ---------------------------------------------------------------------------------------------- the procedure


def new_world(config: dict[str, Any]) -> World:
    observations, actions = env_spaces(config["env"])
    return build_world(
        observations.shape[-1],
        config["z_size"],
        config["vae_width"],
        config["rnn_hidden"],
        config["mdn_components"],
        actions,
        config["death_weight"],
        config["death_rule"],
        config["death_threshold"],
        GAMES[config["env"]].survival,
        GAMES[config["env"]].axis_actions(),
    )


def load_world(checkpoint: dict[str, Any]) -> tuple[World, torch.Tensor | None]:
    """The world and the controller's parameters (None before the first C) from a checkpoint written here."""
    return world_from_state(checkpoint["world"], env_spaces(checkpoint["config"]["env"])[1]), checkpoint.get(
        "controller"
    )


@dataclass
class Outcome:
    world: World
    params: torch.Tensor | None
    summary: dict[str, float]
    seconds: dict[str, float]
    probe: Probe | None
    probe_view: dict[str, np.ndarray] | None  # the last probe_memory snapshot
    pictures_view: dict[str, np.ndarray] | None  # the last show_pictures snapshot


def resume_point(
    ctx: Context,
    world: World,
    config: dict[str, Any],
    round_: int,
    start: torch.Tensor | None,
    generator: torch.Generator,
    summary: dict[str, float],
    seconds: dict[str, float],
    searched: dict[str, Any],
    search: dict[str, Any] | None,
    controller: torch.Tensor | None = None,
) -> None:
    """A checkpoint the last round continues from, in its C stage: V and M, C's start, the search so far (None: not
    begun; `searched` keeps the latest, for the run's final checkpoint) and, once C is trained, C itself."""
    searched["search"] = search
    state = checkpoint_state(world, start if controller is None else controller, config, round_) | {
        "start": start,
        "random": random_state(generator),
        "summary": summary,
        "seconds": seconds,
    }
    step = (round_ - 1) * config["cma_generations"] + (search or {}).get("generation", 0)
    ctx.checkpoint(state | ({"search": search} if search else {}), step=step, stage="C")


def run_rounds(config: dict[str, Any], ctx: Context, last_controller: bool = True) -> Outcome:
    """Section 5's loop. last_controller False: stop after the last round's M (the bench's τ table trains C).

    A run resumes (ctx.resume) from a checkpoint of its last round's C stage: V and M done, the search so far
    (checkpointed whenever one is due) continued. Earlier stages and rounds are not resume points (their real
    episodes, gigabytes of frames, are not kept): a run stopped there starts over."""
    torch.manual_seed(config["seed"])
    world = new_world(config)
    generator = torch.Generator().manual_seed(config["seed"])
    params: torch.Tensor | None = None
    episodes: list[Episode] = []
    summary: dict[str, float] = {}
    seconds = dict.fromkeys([*STAGES, "probes"], 0.0)
    progress = Progress(ctx, config["rounds"])
    probe, probe_view, pictures, pictures_view, search, first = None, None, None, None, None, 1
    if ctx.resume:
        state = ctx.resume.state
        world, params = load_world(state)[0], state["start"]
        restore_random_state(state["random"], generator)
        summary, search, first = state["summary"], state.get("search"), state["round"]
        seconds |= state["seconds"]
    for round_ in range(first, config["rounds"] + 1):
        progress.round = round_
        last = round_ == config["rounds"]
        if not (ctx.resume and round_ == first):
            started = progress.enter("collect")
            episodes += collect(world, params, config, ctx, round_, progress)
            seconds["collect"] += time.perf_counter() - started
            started = progress.enter("V")
            summary |= fit_vision(world, episodes, ctx, generator, round_, progress)
            ctx.checkpoint(checkpoint_state(world, params, config, round_))  # the viewer decodes dreams with this V
            seconds["V"] += time.perf_counter() - started
            started = progress.enter("M")
            summary |= fit_memory(world, episodes, ctx, generator, round_, progress)
            ctx.checkpoint(checkpoint_state(world, params, config, round_))  # V, M and the dream starts: a world
            seconds["M"] += time.perf_counter() - started
            started = time.perf_counter()
            probe = probe or new_probe(world, config, ctx)
            probe_view = probe_memory(world, probe, config, ctx, round_ * config["rnn_updates"])
            pictures = pictures or new_pictures(probe, config, ctx)
            pictures_view = show_pictures(world, pictures, config, ctx, round_ * config["rnn_updates"])
            seconds["probes"] += time.perf_counter() - started
        else:  # resumed: the probe's states are replayed again (deterministic), its figure is in the store
            probe = new_probe(world, config, ctx)
        if last and not last_controller:
            break
        offset = (round_ - 1) * config["cma_generations"]

        searched: dict[str, Any] = {}
        save = partial(resume_point, ctx, world, config, round_, params, generator, summary, seconds, searched)
        if last and search is None:
            save(None)  # V and M done: a restart continues from here
        started = progress.enter("C")
        params, held_out = learn_controller(
            world,
            config,
            ctx,
            progress,
            seed_of(config, CMA_STREAM, round_),
            start=params,
            generation_offset=offset,
            resumed=search,
            save=save if last else None,
        )
        search = None
        seconds["C"] += time.perf_counter() - started
        started = progress.enter("evaluate")
        summary |= evaluate(
            world, params, config, ctx, ctx.params["temperature"], round_, with_random=last, probe=probe
        ) | {"held_out": held_out, "rounds_done": round_}
        if last:  # done, and still a point to continue from: a branch searches on, or scores C anew
            save(searched["search"], controller=params)
        else:
            ctx.checkpoint(checkpoint_state(world, params, config, round_))
        seconds["evaluate"] += time.perf_counter() - started
    return Outcome(world, params, summary, seconds, probe, probe_view, pictures_view)


def controller_in_world(config: dict[str, Any], ctx: Context) -> dict[str, float]:
    """A τ-table job: V and M come from run `world_run` (one world shared by every temperature, so the table
    compares temperatures and nothing else); only C is trained, in their dream at `temperature`, then scored."""
    base = ctx.load_run_checkpoint(config["world_run"])
    world, _ = load_world(base)
    world.death_rule, world.death_threshold = config["death_rule"], config["death_threshold"]
    progress = Progress(ctx, rounds=1)
    started = progress.enter("C")
    tau = config["temperature"]

    searched: dict[str, Any] = {}

    def resume_point(search: dict[str, Any], controller: torch.Tensor | None = None) -> None:
        searched["search"] = search
        ctx.checkpoint(
            checkpoint_state(world, controller, config, 1) | {"search": search}, step=search["generation"], stage="C"
        )

    params, held_out = learn_controller(
        world,
        config,
        ctx,
        progress,
        seed_of(config, CMA_STREAM, 1),
        temperature=tau,
        resumed=ctx.resume.state["search"] if ctx.resume else None,
        save=resume_point,
    )
    c_seconds = time.perf_counter() - started
    progress.enter("evaluate")
    summary = evaluate(world, params, config, ctx, tau, 1, with_random=False, probe=new_probe(world, config, ctx))
    resume_point(searched["search"], controller=params)
    return summary | {"held_out": held_out, "C_seconds": c_seconds}


def train(config: dict[str, Any], ctx: Context) -> dict[str, float]:
    torch.set_num_threads(1)
    try:
        if config["world_run"]:
            summary = controller_in_world(config, ctx)
        else:
            outcome = run_rounds(config, ctx)
            summary = outcome.summary | {f"{name}_seconds": s for name, s in outcome.seconds.items()}
    except Stopped:
        return {"stopped": 1.0}
    ctx.progress(1.0, "done")
    return summary | {"stopped": 0.0}


def bench_cores() -> int:
    """How many τ jobs run at once: DREAMLAB_BENCH_CORES when a seed sweep shares the machine out, else every core
    this process may use. Each job is its own process with one torch thread."""
    return int(os.environ.get("DREAMLAB_BENCH_CORES", 0)) or len(os.sched_getaffinity(0))


def tau_row(outcome: Outcome, config: dict[str, Any], ctx: Context, index: int, tau: float) -> dict[str, Any]:
    """One row of the τ table: a C trained in the shared world's dream at `tau`, scored in it and in the real game
    (the random policy too, in the first row), with what it took."""
    started = time.perf_counter()
    progress = Progress(ctx, 1, stage="C", label=f"tau {tau:g}")
    params, held_out = learn_controller(
        outcome.world,
        config,
        ctx,
        progress,
        seed_of(config, CMA_STREAM, 1000 + index),
        temperature=tau,
        start=outcome.params,
        generation_offset=(config["rounds"] + index) * config["cma_generations"],
    )
    c_seconds = time.perf_counter() - started
    progress.enter("evaluate")
    row = evaluate(
        outcome.world, params, config, ctx, tau, config["rounds"] + index, with_random=index == 0, probe=outcome.probe
    )
    return (
        {"tau": tau}
        | {k: round(v, 3 if k.startswith("probe") else 1) for k, v in row.items() if k != "temperature"}
        | {
            "held_out": round(held_out, 1),
            "C_seconds": round(c_seconds, 1),
            "seconds": round(time.perf_counter() - started, 1),
        }
    )


_FORKED: tuple[Outcome, dict[str, Any]] | None = None  # a τ job's world and config, inherited by fork, never pickled


def _share(outcome: Outcome, config: dict[str, Any]) -> None:
    global _FORKED
    _FORKED = outcome, config
    torch.set_num_threads(1)


def _forked_tau_row(index: int, tau: float) -> dict[str, Any]:
    outcome, config = _FORKED
    return tau_row(outcome, config, LocalContext(config), index, tau)


def tau_table(outcome: Outcome, config: dict[str, Any], ctx: Context, taus: list[float]) -> list[dict[str, Any]]:
    """Every τ's row, the jobs spread over bench_cores() processes (forked: each inherits the world); in this
    process, with its context's figures, when there is one core."""
    cores = min(bench_cores(), len(taus))
    if cores == 1:
        return [tau_row(outcome, config, ctx, index, tau) for index, tau in enumerate(taus)]
    rows: dict[int, dict[str, Any]] = {}
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(cores, mp_context=fork, initializer=_share, initargs=(outcome, config)) as pool:
        jobs = {pool.submit(_forked_tau_row, index, tau): index for index, tau in enumerate(taus)}
        for done in as_completed(jobs):
            rows[jobs[done]] = done.result()
            ctx.progress(len(rows) / len(taus), f"τ table: {len(rows)} of {len(taus)} controllers")
    return [rows[index] for index in range(len(taus))]


def bench(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The whole pipeline, then the τ table in its world: one C per temperature in `taus`, each scored in its own
    dream and over `real_eval_episodes` real episodes, beside the random policy on the same episodes."""
    torch.set_num_threads(1)
    taus = parse_taus(config["taus"])
    outcome = run_rounds(config, ctx, last_controller=False)
    started = time.perf_counter()
    table = tau_table(outcome, config, ctx, taus)
    stage_seconds = outcome.seconds | {"tau_table": time.perf_counter() - started}
    random = {k: table[0].pop(k) for k in ("random_score", "random_score_se")}
    return (
        {
            "stage_seconds": {name: round(s, 1) for name, s in stage_seconds.items() if s},
            "losses": {
                name: round(outcome.summary[name], 4)
                for name in ("recon_loss", "kl", "mdn_loss", "done_loss", "reward_loss")
            },
            "random": random,
            "taus": table,
        }
        | ({"probe": probe_summary(outcome.probe_view)} if outcome.probe_view else {})
        | ({"pictures": pictures_summary(outcome.pictures_view)} if outcome.pictures_view else {})
    )
