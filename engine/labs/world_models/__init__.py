"""World Models (Ha & Schmidhuber 2018): a VAE sees, an MDN-RNN dreams, a linear controller learns inside the dream."""

from __future__ import annotations

from pathlib import Path

BUNDLED_WORLD = Path(__file__).with_name("bundled_world.pt")  # the world a first visit dreams in (made by tools/)
