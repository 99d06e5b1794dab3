"""Frozen meta-RL agents for the page: a run's latest checkpoint, and the small one bundled with Dreamlab.

The bundled agent's evaluation (1000 held-out bandits, every baseline, the Bayes-optimal DP) takes tens of seconds of
a core, so it is not done by the web server: `python -m ui.meta_rl_agents` writes it to PREVIEW beside the checkpoint's
digest, and the page reads that file. A stale or missing file falls back to evaluating once per server.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from engine.labs.meta_rl import agent, evaluate
from engine.labs.meta_rl.config import SPACE
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.store import pack_arrays, unpack_arrays

BUNDLED_CHECKPOINT = Path(agent.__file__).with_name("bundled_agent.pt")
PREVIEW = Path(__file__).resolve().parent.parent / "assets" / "previews" / "meta_rl_bundled.npz"
PREVIEW_EPISODES = 1000
EXPLORER_BANDITS = 100  # the episode explorer's slider: held-out bandits 0..99


@st.cache_resource(max_entries=8)
def load_agent(path: str, mtime: float) -> agent.ActorCritic:
    """`mtime` is part of the cache key: a newer checkpoint of the same run loads anew."""
    return agent.from_checkpoint(load_checkpoint(Path(path)))


@st.cache_data(max_entries=256, show_spinner=False)
def _replay(path: str, mtime: float, config: dict, bandit: int) -> dict[str, np.ndarray]:
    return evaluate.explore_episode(load_agent(path, mtime), SPACE.typed(config), seed=bandit)


def replay(path: Path, config: dict, bandit: int) -> dict[str, np.ndarray]:
    """The agent of a run's latest checkpoint on held-out bandit number `bandit`, for the episode explorer; once per
    checkpoint and bandit for the whole server."""
    return _replay(str(path), path.stat().st_mtime, config, bandit)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate_bundled() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The bundled agent beside the baselines on held-out bandits (regret curves), and its first explorer episode."""
    state = load_checkpoint(BUNDLED_CHECKPOINT)
    model = agent.from_checkpoint(state)
    config = SPACE.typed(state["config"])
    curves = {"agent": evaluate.evaluate_agent(model, config, PREVIEW_EPISODES)}
    curves |= evaluate.evaluate_baselines(config, PREVIEW_EPISODES)
    return evaluate.regret_snapshot(curves), evaluate.explore_episode(model, config)


def write_preview(path: Path = PREVIEW) -> Path:
    curves, episode = evaluate_bundled()
    arrays = {f"curves.{k}": v for k, v in curves.items()} | {f"episode.{k}": v for k, v in episode.items()}
    arrays["checkpoint_sha256"] = np.array(digest(BUNDLED_CHECKPOINT))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pack_arrays(arrays))
    return path


def read_preview(path: Path = PREVIEW) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The precomputed preview, if it was computed from the bundled checkpoint as it is now."""
    if not path.exists():
        return None
    arrays = unpack_arrays(path.read_bytes())
    if str(arrays.pop("checkpoint_sha256", "")) != digest(BUNDLED_CHECKPOINT):
        return None
    curves = {k.removeprefix("curves."): v for k, v in arrays.items() if k.startswith("curves.")}
    episode = {k.removeprefix("episode."): v for k, v in arrays.items() if k.startswith("episode.")}
    return curves, episode


@st.cache_resource(show_spinner="Evaluating the bundled agent on held-out bandits…")
def bundled_preview() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read once per server (shared by every session; do not mutate)."""
    return read_preview() or evaluate_bundled()


if __name__ == "__main__":
    print(f"wrote {write_preview()}")
