"""World Models' procedure (Ha & Schmidhuber 2018, section 5), every stage live (stages.py):

    for each round:
        collect   real rollouts: the random policy in round 1, then C with some exploration
        V         minimise vae_loss (vae.py) on the collected frames
        M         minimise m_loss (mdn_rnn.py) on the episodes seen through V
        probes    does the dream know what moving does (probe.py), and show where you went (pictures.py)?
        C         CMA-ES maximising dream_fitness (dream.py) at temperature tau, never touching the real game
        evaluate  C in the real game and in the dream; the random policy on the same real episodes

`bench` and the τ table (tau_table.py) share one world: its V and M (a run id, `world_run`), and one C per
temperature. Metric steps count per kind: V epochs, M epochs and CMA generations across rounds; real scores per
round. A run resumes in its last round's C stage (resume.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from engine.context import Stopped, random_state
from engine.labs.world_models.config import SPACE, Config, parse_taus
from engine.labs.world_models.dream import World
from engine.labs.world_models.pictures import pictures_summary
from engine.labs.world_models.probe import probe_summary
from engine.labs.world_models.resume import checkpoint_state, load_world, restore, resume_point
from engine.labs.world_models.rollouts import Episode
from engine.labs.world_models.stages import (
    CMA_STREAM,
    Probes,
    Progress,
    collect,
    fit_controller,
    fit_memory,
    fit_vision,
    new_probe,
    new_world,
    seed_of,
    steps_of,
    timed,
)
from engine.labs.world_models.tau_table import tau_table

if TYPE_CHECKING:  # labs sit below the runtime: the context's interface is only needed for type hints
    from engine.context import Context


@dataclass
class Outcome:
    """What the loop ends with: the world, C (None: the bench's loop trains none), the last figures, the stage
    clock and the probes of M."""

    world: World
    params: torch.Tensor | None
    summary: dict[str, float]
    seconds: dict[str, float]  # each stage's, summed over rounds
    probes: Probes


def run_rounds(config: Config, ctx: Context, last_controller: bool = True) -> Outcome:
    """Section 5's loop. last_controller False: stop after the last round's M (the bench's τ table trains C)."""
    torch.manual_seed(config.seed)
    world, params = new_world(config), None
    generator = torch.Generator().manual_seed(config.seed)
    episodes: list[Episode] = []
    summary: dict[str, float] = {}
    progress, probes = Progress(ctx, config.rounds), Probes()
    first, search = 1, None
    if ctx.resume:  # in the last round's C stage: V and M trained, the search so far
        world, params, summary, first, search = restore(ctx.resume.state, generator, progress.seconds)
        probes = Probes(new_probe(world, config, ctx))  # its states replayed again (deterministic)

    def save(search: dict[str, Any] | None, controller: torch.Tensor | None = None) -> None:
        """A resume point in the last round's C stage, from C's `start` (once trained, C itself)."""
        kept = {"start": start, "random": random_state(generator), "summary": summary, "seconds": progress.seconds}
        resume_point(ctx, world, config, round_, search, start if controller is None else controller, kept)

    for round_ in range(first, config.rounds + 1):
        progress.round, last = round_, round_ == config.rounds
        if not (ctx.resume and round_ == first):
            with progress.timed("collect"):
                episodes += collect(world, params, config, ctx, round_, progress)
            with progress.timed("V"):
                summary |= fit_vision(world, episodes, config, ctx, generator, round_, progress)
                ctx.checkpoint(checkpoint_state(world, params, config, round_))  # the viewer decodes dreams with V
            with progress.timed("M"):
                summary |= fit_memory(world, episodes, config, ctx, generator, round_, progress)
                ctx.checkpoint(checkpoint_state(world, params, config, round_))  # V, M, the dream starts: a world
            with progress.timed("probes"):
                probes.show(world, config, ctx, steps_of(config, "M", round_))
        if last and not last_controller:
            break
        start = params
        if last and search is None:
            save(None)  # V and M done: a restart continues from here
        params, scored, search = fit_controller(
            world,
            config,
            ctx,
            progress,
            seed=seed_of(config, CMA_STREAM, round_),
            step=round_,
            first_generation=steps_of(config, "C", round_ - 1),
            start=start,
            resumed=search,
            save=save if last else None,
            with_random=last,
            probes=probes,
        )
        summary |= scored | {"rounds_done": round_}
        if last:  # done, and still a point to continue from: a branch searches on, or scores C anew
            save(search, controller=params)
        else:
            ctx.checkpoint(checkpoint_state(world, params, config, round_))
        search = None
    return Outcome(world, params, summary, progress.seconds, probes)


def controller_in_world(config: Config, ctx: Context) -> dict[str, float]:
    """A τ-table job: V and M come from run `world_run` (one world shared by every temperature, so the table
    compares temperatures and nothing else); only C is trained, in their dream at `temperature`, then scored."""
    world, _ = load_world(ctx.load_run_checkpoint(config.world_run))
    world.death_rule, world.death_threshold = config.death_rule, config.death_threshold
    progress = Progress(ctx, rounds=1)

    def save(search: dict[str, Any], controller: torch.Tensor | None = None) -> None:
        resume_point(ctx, world, config, 1, search, controller)

    params, summary, search = fit_controller(
        world,
        config,
        ctx,
        progress,
        seed=seed_of(config, CMA_STREAM, 1),
        step=1,
        temperature=config.temperature,
        resumed=ctx.resume.state["search"] if ctx.resume else None,
        save=save,
        probes=Probes(),  # made after C, to score it from
    )
    save(search, controller=params)
    return summary | {"C_seconds": progress.seconds["C"]}


def train(values: dict[str, Any], ctx: Context) -> dict[str, float]:
    torch.set_num_threads(1)
    config = SPACE.typed(values)
    try:
        if config.world_run:
            summary = controller_in_world(config, ctx)
        else:
            outcome = run_rounds(config, ctx)
            summary = outcome.summary | {f"{name}_seconds": s for name, s in outcome.seconds.items()}
    except Stopped:
        return {"stopped": 1.0}
    ctx.progress(1.0, "done")
    return summary | {"stopped": 0.0}


def bench(values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The whole pipeline, then the τ table in its world: one C per temperature in `taus`, each scored in its own
    dream and over `real_eval_episodes` real episodes, beside the random policy on the same episodes."""
    torch.set_num_threads(1)
    config = SPACE.typed(values)
    taus = parse_taus(config.taus)
    outcome = run_rounds(config, ctx, last_controller=False)
    with timed(outcome.seconds, "tau_table"):
        table = tau_table((outcome.world, outcome.params, outcome.probes), config, ctx, taus)
    random = {k: table[0].pop(k) for k in ("random_score", "random_score_se")}
    probe_view, pictures_view = outcome.probes.probe_view, outcome.probes.pictures_view
    return (
        {
            "stage_seconds": {name: round(s, 1) for name, s in outcome.seconds.items() if s},
            "losses": {
                name: round(outcome.summary[name], 4)
                for name in ("recon_loss", "kl", "mdn_loss", "done_loss", "reward_loss")
            },
            "random": random,
            "taus": table,
        }
        | ({"probe": probe_summary(probe_view)} if probe_view else {})
        | ({"pictures": pictures_summary(pictures_view)} if pictures_view else {})
    )
