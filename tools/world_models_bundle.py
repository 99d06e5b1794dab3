"""Regenerate bundled_world.pt, the world a first visit dreams in: `python -m tools.world_models_bundle`.

It runs `bench` on the quick preset (the whole pipeline and the τ table) and keeps its world (V, M, the dream
starts), the dream viewer's snapshot, the probe's figures and the τ table with the random policy's score, so that the
page shows them all within seconds and never plays the real game itself. `--set name=value` changes the config as for
the CLI. `--seeds N` then runs the same bench for seeds 1 to N-1 (one process each, spread over the cores:
engine/runtime/seeds.py) and keeps the τ table over all N seeds, each seed's and their mean ± standard error, for the
page's chart; the world stays seed 0's. `--viewer-only` keeps the file's world, probe and τ table and computes only
the viewer's snapshot anew, from a few fresh real episodes (when the viewer's format changes: a minute, not the
bench's twenty).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from engine.context import LocalContext
from engine.labs.world_models import BUNDLED_WORLD
from engine.labs.world_models.config import SPACE
from engine.labs.world_models.resume import load_world
from engine.labs.world_models.rollouts import RandomPolicy, play
from engine.labs.world_models.stages import COLLECT_STREAM, DREAM_STREAM, env_maker, seed_of
from engine.labs.world_models.train import bench
from engine.labs.world_models.viewer import viewer_episode, viewer_snapshot
from engine.params import parse_assignments
from engine.runtime.checkpoints import load_checkpoint, save_checkpoint
from engine.runtime.seeds import finished, run_seeds, statistics

SEED_FIGURES = ("taus", "random", "probe", "pictures", "stage_seconds")  # what the page reads of each seed


def half(state: Any) -> Any:
    """Floats stored in 16 bits (the file ships in the repository: half the size; loading widens them again)."""
    if isinstance(state, dict):
        return {name: half(value) for name, value in state.items()}
    return state.half() if isinstance(state, torch.Tensor) and state.is_floating_point() else state


def packed_viewer(snapshot: dict[str, Any]) -> dict[str, torch.Tensor]:
    return half({name: torch.as_tensor(array) for name, array in snapshot.items()})


def new_viewer(state: dict[str, Any], episodes: int = 8) -> dict[str, torch.Tensor]:
    """The viewer's snapshot for a bundled world, from `episodes` real episodes of the random policy (seeded by its
    config, as round 1's collection is)."""
    config = SPACE.typed(state["config"])
    world, _ = load_world(state)
    seed = seed_of(config, COLLECT_STREAM, 1)
    space = world.controller.space
    played = play(
        env_maker(config),
        RandomPolicy(space, config.action_repeat, seed),
        episodes,
        seed,
        lambda: None,
        min(episodes, config.envs_at_once),
        config.rollout_steps,
    )
    return packed_viewer(viewer_snapshot(world, viewer_episode(played), seed_of(config, DREAM_STREAM, 0)))


def bundle(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the bundled state, the bench's figures)."""
    ctx = LocalContext(config, quiet=False)
    figures = bench(config, ctx)
    world = ctx.checkpoints[-1]  # after the last M: V, M and the dream starts; each τ's C is in the table only
    state = {
        "world": half(world["world"]),
        "config": world["config"],
        "round": world["round"],
        "viewer": packed_viewer(ctx.snapshots["viewer"][1]),
        "tau_table": figures["taus"],
        "probe": figures["probe"],
        "pictures": half({name: torch.as_tensor(array) for name, array in ctx.snapshots["pictures"][1].items()}),
        "random": [figures["random"]["random_score"], figures["random"]["random_score_se"]],
    }
    return state, figures


def over_seeds(config: dict[str, Any], figures: dict[str, Any], sets: list[str], seeds: int) -> dict[str, Any]:
    """Seed `config["seed"]`'s figures beside seeds config["seed"] + 1 … + seeds - 1, benched in their own processes,
    and the mean ± standard error of every figure over them all."""
    others = list(range(config["seed"] + 1, config["seed"] + seeds))
    result = run_seeds("world_models", "quick", sets, others)
    per_seed = [{"seed": config["seed"]} | {k: figures[k] for k in SEED_FIGURES if k in figures}] + [
        {"seed": record["seed"], "wall_seconds": record["wall_seconds"]}
        | {k: record["figures"][k] for k in SEED_FIGURES if k in record["figures"]}
        for record in finished(result["per_seed"])
    ]
    mean, se = statistics([{k: v for k, v in one.items() if k != "seed"} for one in per_seed])
    return {"per_seed": per_seed, "mean": mean, "se": se, "errors": [r for r in result["per_seed"] if "error" in r]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], help="name=value, as for python -m engine")
    parser.add_argument("--out", type=Path, default=BUNDLED_WORLD)
    parser.add_argument("--seeds", type=int, default=1, help="bench this many seeds in all; the world is the first's")
    parser.add_argument("--viewer-only", action="store_true", help="recompute only the viewer's snapshot of --out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.viewer_only:
        state = load_checkpoint(args.out)
        save_checkpoint(state | {"viewer": new_viewer(state)}, args.out)
        return
    config = SPACE.resolve("quick", parse_assignments(args.set))
    state, figures = bundle(config)
    save_checkpoint(state, args.out)
    print(json.dumps(figures), flush=True)
    if args.seeds > 1:
        seeds = over_seeds(config, figures, [a for a in args.set if not a.startswith("seed=")], args.seeds)
        save_checkpoint(state | {"seeds": seeds}, args.out)
        print(json.dumps(seeds))


if __name__ == "__main__":
    main()
