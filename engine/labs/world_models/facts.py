"""The World Models lab's facts, torch-free: each game's table and the names its ParamSpace offers as choices.

config.py reads only this module (and engine.params), so reading the lab's `space` imports neither torch nor
gymnasium; envs.py, dream.py, mdn_rnn.py and the UI read the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

DEATH_RULES = ("sample", "threshold")  # how a dream decides that M's predicted death happened (dream.py)
DEATH_TARGETS = ("death", "hit")  # what M learns to predict as its death signal (mdn_rnn.py)
DOOM_SKILLS = (1, 5)  # ViZDoom's difficulty levels
TIME_LIMIT = 2100  # the paper's DoomTakeCover episode length: surviving it is the best score

# Ha & Schmidhuber 2018, Table 2 (DoomTakeCover): τ → (dream mean, dream std, real mean, real std); its random policy
PAPER_TAU_TABLE = {
    0.10: (2086, 140, 193, 58),
    0.50: (2060, 277, 196, 50),
    1.00: (1145, 690, 868, 511),
    1.15: (918, 546, 1092, 556),
    1.30: (732, 269, 753, 139),
}
PAPER_RANDOM = (210, 108)
TABLE_TAUS = tuple(PAPER_TAU_TABLE)  # the τ table's temperatures: one controller each, in one shared world


@dataclass(frozen=True)
class Game:
    """A game's facts, the one place the rest of the lab reads them from."""

    channels: int  # of its 64x64 frames: 3 (RGB) or 1 (an object mask)
    actions: dict[str, int | tuple[float, ...]]  # what a visitor can press in a dream: name -> the action, in order
    survival: bool  # reward 1 per step alive: the dream counts steps instead of M's predicted reward
    expected_steps: int  # a collected episode's expected length (Doom: random play dies in ~300 steps)
    axis: tuple[str, str, str] | None = None  # the paper's one-output controller: the actions it reads as -, 0, +
    mirrored: tuple[int, ...] | None = None  # a left-right symmetric game: what each action is in the mirror image
    fireballs: bool = False  # Doom's yellow fireballs, which the second probe counts in V's pictures (pictures.py)

    def axis_actions(self) -> tuple[int, int, int] | None:
        return tuple(self.actions[name] for name in self.axis) if self.axis else None


# ViZDoom 1.3.2's wrapper numbers take_cover.cfg's buttons [MOVE_LEFT, MOVE_RIGHT] as itertools.product with at most
# one pressed: 0 none, 1 MOVE_RIGHT, 2 MOVE_LEFT (tests/labs/test_world_models.py reads the player's position)
GAMES = {
    "doom": Game(
        3,
        {"left": 2, "still": 0, "right": 1},
        True,
        500,
        axis=("left", "still", "right"),
        mirrored=(0, 2, 1),
        fireballs=True,
    ),
    "take_cover": Game(1, {"left": 0, "still": 1, "right": 2}, True, 400, mirrored=(2, 1, 0)),
    "cartpole": Game(1, {"push left": 0, "push right": 1}, True, 200, mirrored=(1, 0)),
    "carracing": Game(
        3,
        {
            "steer left": (-1.0, 0.3, 0.0),
            "gas": (0.0, 1.0, 0.0),
            "steer right": (1.0, 0.3, 0.0),
            "brake": (0.0, 0.0, 0.8),
        },
        False,
        1000,
    ),
}
ENVS = tuple(GAMES)
