"""The stages of World Models' loop (train.py), one function each: collect, fit_vision, fit_memory, the probes
(Probes.show), fit_controller (train C in the dream, then score it: evaluate); and what they share: the seeds, the
device, the progress bar with its stage clock, and where each stage's metric steps begin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.labs.world_models.config import Config, parse_taus
from engine.labs.world_models.controller import train_controller
from engine.labs.world_models.dream import World, build_world, dream_fitness, dream_returns
from engine.labs.world_models.envs import env_spaces, make_env
from engine.labs.world_models.facts import GAMES
from engine.labs.world_models.mdn_rnn import Sequences, death_labels, train_rnn
from engine.labs.world_models.pictures import SIDES, Pictures, make_pictures
from engine.labs.world_models.probe import Probe, make_probe
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


def seed_of(config: Config, stream: int, index: int) -> int:
    """Independent seeds from one config seed: evaluation never replays a training episode."""
    return int(np.random.default_rng([stream, index, config.seed]).integers(2**31))


def steps_of(config: Config, stage: str, rounds: int) -> int:
    """The metric steps that `rounds` rounds of a stage log: metric steps count per stage across rounds (V epochs,
    M updates, CMA generations), so round r's begin after steps_of(config, stage, r - 1)."""
    per_round = {"V": config.vae_epochs, "M": config.rnn_updates, "C": config.cma_generations}
    return rounds * per_round[stage]


def device_of(config: Config) -> torch.device:
    """Where V, M and the dreams run: `device` cuda, or auto when torch finds a CUDA GPU; else the CPU."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda: torch finds no CUDA GPU on this machine; use auto or cpu")
    return torch.device("cuda" if config.device != "cpu" and torch.cuda.is_available() else "cpu")


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


def env_maker(config: Config):
    return lambda seed: make_env(config.env, seed, config.doom_skill)


@dataclass
class Progress:
    """The run's progress bar, a fraction of one stage of one round mapped onto the whole run, and its stage clock:
    the seconds spent in each stage, summed over rounds."""

    ctx: Context
    rounds: int
    round: int = 1
    stage: str = "collect"
    label: str = "round"  # the bench's τ table counts temperatures instead
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys([*STAGES, "probes"], 0.0))

    def __call__(self, fraction: float) -> None:
        names = list(STAGES)
        before = sum(STAGES[name] for name in names[: names.index(self.stage)])
        overall = (self.round - 1 + before + STAGES[self.stage] * min(fraction, 1.0)) / self.rounds
        self.ctx.progress(overall, f"{self.label} {self.round}: {self.stage}")

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Enter `stage` (on the bar when it is one of STAGES; the probes are not) and count its seconds."""
        if stage in STAGES:
            self.stage = stage
            self(0.0)
        with timed(self.seconds, stage):
            yield


@contextmanager
def timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    """Add the seconds the block takes to seconds[stage]."""
    started = time.perf_counter()
    yield
    seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started


def new_world(config: Config) -> World:
    observations, actions = env_spaces(config.env)
    return build_world(
        observations.shape[-1],
        config.z_size,
        config.vae_width,
        config.rnn_hidden,
        config.mdn_components,
        actions,
        config.death_weight,
        config.death_rule,
        config.death_threshold,
        GAMES[config.env].survival,
        GAMES[config.env].axis_actions(),
    )


# ---------------------------------------------------------------------------------------------- the stages


def collect(
    world: World, params: torch.Tensor | None, config: Config, ctx: Context, round_: int, progress: Progress
) -> list[Episode]:
    """Real rollouts: the paper's random policy first, then C (exploring a little) once one exists."""
    seed, space = seed_of(config, COLLECT_STREAM, round_), world.controller.space
    policy = (
        RandomPolicy(space, config.action_repeat, seed)
        if params is None
        else ControllerPolicy(world, params, config.exploration, space, seed)
    )
    return play(
        env_maker(config),
        policy,
        config.rollouts,
        seed,
        ctx.keep_going,
        config.envs_at_once,
        config.rollout_steps,
        progress,
    )


def fit_vision(
    world: World,
    episodes: list[Episode],
    config: Config,
    ctx: Context,
    generator: torch.Generator,
    round_: int,
    progress: Progress,
) -> dict[str, float]:
    """V on every collected frame."""
    frames = Frames([episode.frames for episode in episodes])
    pick = torch.randint(len(frames), (RECON_FRAMES,), generator=generator).numpy()  # the same frames each epoch

    def show_reconstructions(epoch: int) -> None:
        with on_device(world.vae, torch.device("cpu")):
            ctx.snapshot("recon", epoch, recon_snapshot(world, frames[pick]))

    with on_device(world.vae, device_of(config)):
        return train_vae(
            world.vae, frames, config, ctx, generator, progress, steps_of(config, "V", round_ - 1), show_reconstructions
        )


def recon_snapshot(world: World, frames: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        mu, _ = world.vae.encode(to_tensor(frames))
        reconstructions = to_uint8(world.vae.decode(mu)).numpy()
    return {"frames": viewable(frames), "reconstructions": viewable(reconstructions)}


def viewable(frames: np.ndarray) -> np.ndarray:
    """Frames for the viewer: (n, 64, 64) for one channel, (n, 64, 64, 3) for RGB."""
    return frames[..., 0] if frames.shape[-1] == 1 else frames


def fit_memory(
    world: World,
    episodes: list[Episode],
    config: Config,
    ctx: Context,
    generator: torch.Generator,
    round_: int,
    progress: Progress,
) -> dict[str, float]:
    """M on every episode seen through V (and, `mirror` on in a symmetric game, in a mirror too: as many hits again,
    and no side of the room safer than the other); the dreams will start from V's codes of the real first frames."""
    shown, mirror = viewer_episode(episodes), GAMES[config.env].mirrored
    if config.mirror and mirror:
        episodes = episodes + [mirrored(episode, mirror) for episode in episodes]
    with torch.no_grad():
        latents = [world.vae.encode(to_tensor(episode.frames)) for episode in episodes]
    world.start_mu = torch.stack([mu[0] for mu, _ in latents])
    world.start_logvar = torch.stack([logvar[0] for _, logvar in latents])
    actions = [world.controller.action_vectors(torch.as_tensor(episode.actions)) for episode in episodes]
    deaths = [death_labels(e.damage, e.terminated, config.death_target, config.death_horizon) for e in episodes]
    data = Sequences(
        [mu for mu, _ in latents],
        [logvar for _, logvar in latents],
        actions,
        [torch.as_tensor(e.rewards) for e in episodes],
        deaths,
    )
    offset = steps_of(config, "M", round_ - 1)

    def show_dreams(update: int) -> None:  # the viewer follows M as it learns
        if viewer_due(update, config.rnn_updates):
            with on_device(world.rnn, torch.device("cpu")):
                ctx.snapshot("viewer", offset + update, viewer_snapshot(world, shown, seed_of(config, DREAM_STREAM, 0)))

    with on_device(world.rnn, device_of(config)):
        return train_rnn(world.rnn, data, config, ctx, generator, progress, offset, show_dreams)


def new_probe(world: World, config: Config, ctx: Context) -> Probe | None:
    """The probe's held-out states and the real outcomes there (None in a game without discrete actions)."""
    if not config.probe_episodes or not world.controller.discrete:
        return None
    return make_probe(
        env_maker(config),
        world.controller.space,
        GAMES[config.env].actions,
        config.probe_episodes,
        config.action_repeat,
        seed_of(config, PROBE_STREAM, 0),
        config.probe_horizon,
        config.probe_lead,
        ctx.keep_going,
        config.envs_at_once,
    )


def new_pictures(probe: Probe | None, config: Config, ctx: Context) -> Pictures | None:
    """The second probe's starts, in the first probe's held-out episodes (a game with a left and a right)."""
    game = GAMES[config.env]
    if probe is None or not set(SIDES) <= set(game.actions):
        return None
    return make_pictures(
        env_maker(config), probe.states, game.actions, config.pictures_steps, game.fireballs, ctx.keep_going
    )


@dataclass
class Probes:
    """The two probes of M, made once (None: the game has no such probe), and their last snapshots."""

    probe: Probe | None = None
    pictures: Pictures | None = None
    probe_view: dict[str, np.ndarray] | None = None
    pictures_view: dict[str, np.ndarray] | None = None

    def first(self, world: World, config: Config, ctx: Context) -> Probe | None:
        """The first probe, made when first asked for."""
        self.probe = self.probe or new_probe(world, config, ctx)
        return self.probe

    def show(self, world: World, config: Config, ctx: Context, step: int) -> None:
        """Does the dream know what moving does? M's odds beside the real game's, at every τ of the table. Does it
        show where you went? M's dream of left and right, decoded by V, beside the game's."""
        if self.first(world, config, ctx) is not None:
            taus, seed = parse_taus(config.taus), seed_of(config, PROBE_STREAM, step)
            self.probe_view = self.probe.snapshot(world, taus, config.probe_dreams, seed)
            ctx.snapshot("probe", step, self.probe_view)
        self.pictures = self.pictures or new_pictures(self.probe, config, ctx)
        if self.pictures is not None:
            self.pictures_view = self.pictures.snapshot(world, PICTURES_TAU, seed_of(config, PROBE_STREAM, step))
            ctx.snapshot("pictures", step, self.pictures_view)


def fit_controller(
    world: World,
    config: Config,
    ctx: Context,
    progress: Progress,
    *,
    seed: int,
    step: int,
    first_generation: int = 0,
    temperature: float | None = None,
    start: torch.Tensor | None = None,
    resumed: dict[str, Any] | None = None,
    save: Callable[[dict[str, Any]], None] | None = None,
    with_random: bool = False,
    probes: Probes | None = None,
) -> tuple[torch.Tensor, dict[str, float], dict[str, Any]]:
    """Train C, then score it. C by CMA-ES on dream_fitness at `temperature` (None: the live value, read every
    generation), from `start`; held out: the same `held_out_dreams` dreams for every generation's mean. Then C
    scored by evaluate at step `step` (from the first probe's states too), at `temperature` (None: the live one).
    Returns C, its scores with its held-out score, and the whole search's state (with the dreams' generator),
    which `save` also receives whenever a checkpoint is due; `resumed` continues such a search."""
    generator = torch.Generator().manual_seed(seed)
    if resumed:
        generator.set_state(resumed["generator"])

    def with_generator(search: dict[str, Any]) -> dict[str, Any]:
        return search | {"generator": generator.get_state()}

    def fitness(params: torch.Tensor, tau: float) -> torch.Tensor:
        return dream_fitness(world, params, config.dream_episodes, config.dream_length, tau, generator)

    def held_out_fitness(params: torch.Tensor, tau: float) -> float:
        fixed = torch.Generator().manual_seed(seed + 1)
        return dream_fitness(world, params.unsqueeze(0), config.held_out_dreams, config.dream_length, tau, fixed).item()

    ceiling = config.dream_length if world.survival_reward else math.inf  # every dream survived to the end
    with progress.timed("C"), on_device(world.rnn, device_of(config)):
        params, held_out, search = train_controller(
            world.controller.n_params,
            fitness,
            held_out_fitness,
            config,
            ctx,
            progress,
            seed,
            temperature,
            start,
            first_generation,
            ceiling,
            resumed,
            (lambda search: save(with_generator(search))) if save else None,
        )
        search = with_generator(search)
    with progress.timed("evaluate"):
        tau = ctx.live(config).temperature if temperature is None else temperature
        probe = probes.first(world, config, ctx) if probes else None
        scored = evaluate(world, params, config, ctx, tau, step, with_random, probe)
    return params, scored | {"held_out": held_out}, search


def evaluate(
    world: World,
    params: torch.Tensor,
    config: Config,
    ctx: Context,
    temperature: float,
    step: int,
    with_random: bool,
    probe: Probe | None,
) -> dict[str, float]:
    """C over `real_eval_episodes` real episodes and as many dreams at its temperature (mean ± standard error);
    the random policy on the same real episodes when asked; C from the probe's states, real and dreamt."""
    n, seed = config.real_eval_episodes, seed_of(config, EVAL_STREAM, 0)  # every C plays the same episodes
    action_space = world.controller.space
    poll, slots = ctx.keep_going, config.envs_at_once
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
        dream_returns(world, params.unsqueeze(0), n, config.dream_length, temperature, generator)[0].numpy()
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
            config.probe_dreams,
            seed_of(config, PROBE_STREAM, step),
        )
    ctx.log(step, **summary)
    return summary
