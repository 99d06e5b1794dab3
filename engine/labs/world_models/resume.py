"""A World Models run's checkpoints: what they hold, and the points a run resumes from.

Every checkpoint holds the world (V, M, the dream starts), the config and the round; C's parameters once there is a
C. A resume point (ctx.resume) is one taken in the C stage of the last round (or of a τ-table job): V and M done,
the search so far (checkpointed whenever one is due) continued exactly. Earlier stages and rounds are not resume
points (their real episodes, gigabytes of frames, are not kept): a run stopped there starts over.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch

from engine.context import restore_random_state
from engine.labs.world_models.config import SPACE, Config
from engine.labs.world_models.dream import World, world_from_state
from engine.labs.world_models.envs import env_spaces
from engine.labs.world_models.stages import steps_of

if TYPE_CHECKING:  # labs sit below the runtime: the context's interface is only needed for type hints
    from engine.context import Context


def checkpoint_state(world: World, params: torch.Tensor | None, config: Config, round_: int) -> dict[str, Any]:
    """V, M (and C when there is one) with the dream starts and the config."""
    state = {"world": world.state(), "config": asdict(config), "round": round_}
    return state if params is None else state | {"controller": params}


def load_world(checkpoint: dict[str, Any]) -> tuple[World, torch.Tensor | None]:
    """The world and the controller's parameters (None before the first C) from a checkpoint written here."""
    world = world_from_state(checkpoint["world"], env_spaces(SPACE.typed(checkpoint["config"]).env)[1])
    return world, checkpoint.get("controller")


def resume_point(
    ctx: Context,
    world: World,
    config: Config,
    round_: int,
    search: dict[str, Any] | None,
    controller: torch.Tensor | None = None,
    kept: dict[str, Any] | None = None,
) -> None:
    """A checkpoint to continue from, in round `round_`'s C stage: V and M, `controller` (C's start, or C once
    trained), the search so far (None: not begun) and what else the loop `kept` to go on exactly."""
    state = checkpoint_state(world, controller, config, round_) | (kept or {}) | ({"search": search} if search else {})
    step = steps_of(config, "C", round_ - 1) + (search or {}).get("generation", 0)
    ctx.checkpoint(state, step=step, stage="C")


def restore(
    state: dict[str, Any], generator: torch.Generator, seconds: dict[str, float]
) -> tuple[World, torch.Tensor | None, dict[str, float], int, dict[str, Any] | None]:
    """The loop at a resume point: the world, C's start, the summary so far, the round and the search so far (None:
    not begun); the random state (torch's, after building the world, and the generator's) and the stage clock
    (`seconds`) put back as they were."""
    world, _ = load_world(state)
    restore_random_state(state["random"], generator)
    seconds |= state["seconds"]
    return world, state["start"], state["summary"], state["round"], state.get("search")
