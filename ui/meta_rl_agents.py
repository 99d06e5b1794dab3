"""Frozen meta-RL agents for the page: a run's latest checkpoint, and the small one bundled with Dreamlab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from engine.labs.meta_rl import agent, evaluate
from engine.runtime.checkpoints import load_checkpoint

BUNDLED = Path(agent.__file__).with_name("bundled_agent.pt")
PREVIEW_EPISODES = 1000


@st.cache_resource(max_entries=8)
def load_agent(path: str, mtime: float) -> agent.ActorCritic:
    """`mtime` is part of the cache key: a newer checkpoint of the same run loads anew."""
    return agent.from_checkpoint(load_checkpoint(Path(path)))


def replay(path: Path, config: dict, bandit: int) -> dict[str, np.ndarray]:
    """The agent of a run's latest checkpoint on held-out bandit number `bandit`, for the episode explorer."""
    return evaluate.explore_episode(load_agent(str(path), path.stat().st_mtime), config, seed=bandit)


@st.cache_data(show_spinner="Evaluating the bundled agent on held-out bandits…")
def bundled_preview() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    state = load_checkpoint(BUNDLED)
    model = agent.from_checkpoint(state)
    config = state["config"]
    curves = {"agent": evaluate.evaluate_agent(model, config, PREVIEW_EPISODES)}
    curves |= evaluate.evaluate_baselines(config, PREVIEW_EPISODES)
    return evaluate.regret_snapshot(curves), evaluate.explore_episode(model, config)
