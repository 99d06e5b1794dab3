"""Regenerate bundled_world.pt, the world a first visit dreams in: `python -m tools.world_models_bundle`.

It runs `bench` on the quick preset (the whole pipeline and the τ table) and keeps its world (V, M, the dream
starts), the dream viewer's snapshot, the probe's figures and the τ table with the random policy's score, so that the
page shows them all within seconds and never plays the real game itself. `--set name=value` changes the config as for
the CLI.
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
from engine.labs.world_models.train import bench
from engine.params import parse_assignments
from engine.runtime.checkpoints import save_checkpoint


def half(state: Any) -> Any:
    """Floats stored in 16 bits (the file ships in the repository: half the size; loading widens them again)."""
    if isinstance(state, dict):
        return {name: half(value) for name, value in state.items()}
    return state.half() if isinstance(state, torch.Tensor) and state.is_floating_point() else state


def bundle(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the bundled state, the bench's figures)."""
    ctx = LocalContext(config, quiet=False)
    figures = bench(config, ctx)
    world = ctx.checkpoints[-1]  # after the last M: V, M and the dream starts; each τ's C is in the table only
    state = {
        "world": half(world["world"]),
        "config": world["config"],
        "round": world["round"],
        "viewer": half({name: torch.as_tensor(array) for name, array in ctx.snapshots["viewer"][1].items()}),
        "tau_table": figures["taus"],
        "probe": figures["probe"],
        "random": [figures["random"]["random_score"], figures["random"]["random_score_se"]],
    }
    return state, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], help="name=value, as for python -m engine")
    parser.add_argument("--out", type=Path, default=BUNDLED_WORLD)
    args = parser.parse_args()
    torch.set_num_threads(1)
    state, figures = bundle(SPACE.resolve("quick", parse_assignments(args.set)))
    save_checkpoint(state, args.out)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
