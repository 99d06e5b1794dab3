import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# a meta_rl run that finishes in seconds, and one that keeps training until told to stop
TINY_META_RL = {"updates": 3, "batch": 8, "hidden": 8, "pulls": 10, "eval_every": 2, "eval_episodes": 20}
LONG_META_RL = {**TINY_META_RL, "updates": 100_000, "eval_every": 100_000}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMLAB_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture
def manager(data_dir):
    from engine.runtime.jobs import JobManager

    jobs = JobManager(data_dir, max_jobs=2, heartbeat_timeout=3.0, supervise_every=0.1)
    yield jobs
    jobs.shutdown(stop_runs=True)
    for run in jobs.store.list_runs(statuses=("running", "paused")):
        jobs.wait(run.id, timeout=10)
