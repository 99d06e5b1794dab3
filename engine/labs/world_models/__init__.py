"""World Models (Ha & Schmidhuber 2018): a VAE sees, an MDN-RNN dreams, a linear controller learns inside the dream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BUNDLED_WORLD = Path(__file__).with_name("bundled_world.pt")  # the world a first visit dreams in (made by tools/)


class Stopped(Exception):
    """The visitor pressed Stop: every stage unwinds to train(), which keeps what was learnt."""


def keep_going(ctx: Any) -> None:
    """Apply pending controls (pause blocks here); raise Stopped on Stop."""
    if not ctx.poll():
        raise Stopped
