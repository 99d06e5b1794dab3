"""World Models (Ha & Schmidhuber 2018): a VAE sees, an MDN-RNN dreams, a linear controller learns inside the dream."""

from __future__ import annotations

from typing import Any


class Stopped(Exception):
    """The visitor pressed Stop: every stage unwinds to train(), which keeps what was learnt."""


def keep_going(ctx: Any) -> None:
    """Apply pending controls (pause blocks here); raise Stopped on Stop."""
    if not ctx.poll():
        raise Stopped
