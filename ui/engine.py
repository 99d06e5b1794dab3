"""The app's one job manager, and who this browser session is."""

from __future__ import annotations

import uuid

import streamlit as st

from engine.runtime.jobs import JobManager
from engine.runtime.store import Store


@st.cache_resource
def job_manager() -> JobManager:
    # held once per server process; workers outlive a restart and are re-attached through the store
    return JobManager()


def store() -> Store:
    return job_manager().store


def owner_id() -> str:
    """A per-browser-session id, recorded as a run's owner (the hosted demo shows each visitor theirs)."""
    if "owner" not in st.session_state:
        st.session_state.owner = uuid.uuid4().hex[:12]
    return st.session_state.owner


@st.fragment(run_every=2)
def engine_status() -> None:
    manager = job_manager()
    running = manager.store.list_runs(statuses=("running", "paused"))
    queued = manager.store.list_runs(statuses=("queued",))
    st.caption(f"Engine: {len(running)}/{manager.max_jobs} jobs running · {len(queued)} queued")
    for run in running:
        st.caption(f"#{run.id} {run.lab} · {run.stage or run.status} {run.progress:.0%}")
