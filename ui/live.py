"""Cheap live views: what a live figure costs the server is paid once per new step, not once per viewer per second.

- `run_now(run_id)`: one read of a run's row per second for every session together.
- `version(run, seconds)`: the moment a live view last moved, in steps of `seconds` (a finished run never moves):
  every session watching a run within the same step asks for the same figures.
- `shared(kind, key, build)`: `build()` once per key for the whole server (bounded: a few hundred entries, ten
  minutes), e.g. `shared("meta_rl.curve", (run.id, version(run)), lambda: Prebuilt(metric_chart(...)))`.
- `metrics`, `events`, `snapshot`: the store's reads, once per version for every session.
- `engine_status()`: the sidebar's engine line, from one store read a second for every session.
- `watch(version, key)`: rerun the page when `version()` changes (a cheap query every few seconds).

Pages hand `Prebuilt` figures (ui.figures) to st.plotly_chart: re-sending one costs one json.dumps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from engine.runtime.store import TRAINING, Run, Status
from ui.engine import job_manager, store

T = TypeVar("T")
FIGURES_EVERY = 3.0  # seconds between redraws of a live run's figures (its progress bar moves every second)
# These rates assume .streamlit/config.toml's `[runner] postScriptGC = false`: with Streamlit's default, every script
# run (each fragment rerun) ends in gc.collect(2), ~0.2 s of a core with torch loaded — 30 % of a core per viewer.


@st.cache_data(ttl=1, max_entries=256, show_spinner=False)
def run_now(run_id: int) -> Run | None:
    """The run's row as of this second, read once for all sessions."""
    return store().get_run(run_id)


def version(run: Run, seconds: float = FIGURES_EVERY) -> float:
    """When the run's figures last changed, rounded down to `seconds`: the cache key of its live figures."""
    if not run.active:
        return run.updated
    return run.updated - run.updated % seconds


@st.cache_resource(max_entries=256, ttl=600, show_spinner=False)
def _shared(kind: str, key: tuple, _build: Callable[[], Any]) -> Any:
    return _build()


@st.cache_resource(max_entries=24, ttl=600, show_spinner=False)
def _shared_heavy(kind: str, key: tuple, _build: Callable[[], Any]) -> Any:
    return _build()


def shared(kind: str, key: tuple, build: Callable[[], T], heavy: bool = False) -> T:
    """`build()` once per (kind, key) for the whole server; the result is shared, never copied: do not mutate it.
    The server keeps the 256 latest results (ten minutes at most); `heavy` ones (a figure of megabytes: animations
    over τ or rounds, image grids) in a cache of their own that holds 24."""
    return (_shared_heavy if heavy else _shared)(kind, key, build)


def snapshot(run: Run, name: str, seconds: float = FIGURES_EVERY) -> tuple[int, dict] | None:
    """The latest snapshot (step, arrays), unpacked once per `version` for every session (shared: do not mutate).
    Key the figures drawn from it by its step, so they are rebuilt only when the trainer wrote a new one."""
    return shared("snapshot", (run.id, name, version(run, seconds)), lambda: store().snapshot(run.id, name))


def metrics(run: Run, names: list[str] | None = None, seconds: float = FIGURES_EVERY) -> dict:
    """The run's metric series, read once per `version` for every session (shared: do not mutate)."""
    return shared(
        "metrics", (run.id, version(run, seconds), tuple(names or ())), lambda: store().metrics(run.id, names)
    )


def events(run: Run, seconds: float = FIGURES_EVERY) -> list[dict]:
    return shared("events", (run.id, version(run, seconds)), lambda: store().events(run.id))


@st.cache_data(ttl=1, show_spinner=False)
def engine_lines() -> list[str]:
    """The sidebar's engine status as lines of text, read from the store once a second for every session."""
    manager = job_manager()
    running = manager.store.list_runs(statuses=TRAINING)
    queued = manager.store.list_runs(statuses=(Status.QUEUED,))
    return [
        f"Engine: {len(running)}/{manager.max_jobs} jobs running · {len(queued)} queued",
        *(f"#{run.id} {run.lab} · {run.stage or run.status} {run.progress:.0%}" for run in running),
    ]


@st.fragment(run_every=5)
def engine_status() -> None:
    """Every five seconds, from one store read a second shared by every session: each visitor's sidebar redraw costs
    the server a script run, and an idle visitor's budget is 1 % of a core."""
    for line in engine_lines():
        st.caption(line)


def watch(version: Callable[[], Any], key: str, every: float = FIGURES_EVERY) -> None:
    """Every `every` seconds a cheap query and nothing drawn; the page reruns only when `version()` changed, so each
    figure is sent again only when it has something new to show (the hosted demo's budget: ≤ 5 % of a core per
    viewer)."""
    st.session_state[key] = version()

    @st.fragment(run_every=every)
    def check() -> None:
        if version() != st.session_state[key]:
            st.rerun()

    check()
