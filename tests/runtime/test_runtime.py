"""The runtime end to end: real worker processes, a real SQLite store, a real lab with a tiny config."""

import contextlib
import os
import signal
import time

import numpy as np
import pytest
import torch

from engine.context import LocalContext
from engine.params import ConfigError
from engine.runtime.access import OPERATOR
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.jobs import JobManager
from tests.conftest import LONG_META_RL, TINY_META_RL, local_settings


def wait_for(predicate, timeout=60.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_a_run_trains_to_done_with_metrics_snapshots_and_checkpoint(manager):
    run_id = manager.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    assert manager.wait(run_id, timeout=60) == "done", manager.store.get_run(run_id).error
    run = manager.store.get_run(run_id)
    assert run.progress == 1.0 and run.summary
    metrics = manager.store.metrics(run_id)
    assert len(metrics["loss"][0]) == TINY_META_RL["updates"]
    assert manager.store.snapshot(run_id, "regret") is not None
    state = load_checkpoint(manager.store.checkpoint_path(run_id))
    assert all(isinstance(v, torch.Tensor) for v in state["model"].values())


def test_bad_config_starts_no_job(manager):
    with pytest.raises(ConfigError, match="lr"):
        manager.submit("meta_rl", {"lr": "fast"}, by=OPERATOR)
    with pytest.raises(ConfigError, match="unknown lab"):
        manager.submit("no_such_lab", {}, by=OPERATOR)
    assert manager.store.list_runs() == []


@pytest.mark.slow
def test_a_live_change_reaches_the_worker(manager):
    run_id = manager.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    wait_for(lambda: "loss" in manager.store.metrics(run_id))
    manager.set_params(run_id, {"lr": 0.0042}, by=OPERATOR)
    event = wait_for(lambda: [e for e in manager.store.events(run_id) if e["kind"] == "set"])[0]
    assert event["detail"] == {"lr": 0.0042}
    # the trainer logs the learning rate it used (its schedule barely decays over 100k updates)
    wait_for(lambda: (abs(manager.store.metrics(run_id, ["lr"])["lr"][1] - 0.0042) < 1e-4).any())
    with pytest.raises(ConfigError, match="cannot be changed"):
        manager.set_params(run_id, {"hidden": 4}, by=OPERATOR)


@pytest.mark.slow
def test_pause_resume_stop(manager):
    run_id = manager.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    wait_for(lambda: "loss" in manager.store.metrics(run_id))
    manager.pause(run_id, by=OPERATOR)
    wait_for(lambda: manager.store.get_run(run_id).status == "paused")  # set after the worker flushed its metrics
    steps_paused = len(manager.store.metrics(run_id)["loss"][0])
    for lr in (0.002, 0.003):  # the paused worker goes on applying controls: each one is a loop it went through
        manager.set_params(run_id, {"lr": lr}, by=OPERATOR)
        wait_for(lambda lr=lr: any(e["detail"] == {"lr": lr} for e in manager.store.events(run_id)))
    assert len(manager.store.metrics(run_id)["loss"][0]) == steps_paused, "training went on while paused"
    manager.resume(run_id, by=OPERATOR)
    wait_for(lambda: len(manager.store.metrics(run_id)["loss"][0]) > steps_paused)
    assert manager.store.get_run(run_id).status == "running"
    manager.stop(run_id, by=OPERATOR)
    assert manager.wait(run_id, timeout=30) == "stopped"
    assert [e["kind"] for e in manager.store.events(run_id)] == ["pause", "set", "set", "resume", "stop"]


@pytest.mark.slow
def test_a_sigkilled_worker_is_marked_failed_and_the_manager_keeps_serving(manager):
    run_id = manager.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    pid = wait_for(lambda: manager.store.get_run(run_id).pid)
    wait_for(lambda: "loss" in manager.store.metrics(run_id))
    os.kill(pid, signal.SIGKILL)
    assert manager.wait(run_id, timeout=30) == "failed"
    assert "SIGKILL" in manager.store.get_run(run_id).error
    next_run = manager.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    assert manager.wait(next_run, timeout=60) == "done"


@pytest.mark.slow
def test_a_restarted_manager_keeps_runs_and_detects_death_by_heartbeat(data_dir):
    first = JobManager(data_dir, settings=local_settings(slots=2), supervise_every=0.1)
    finishing = first.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    doomed = first.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    pid = wait_for(lambda: first.store.get_run(doomed).pid)
    first.shutdown()  # the app restarts; its workers do not
    second = JobManager(data_dir, settings=local_settings(slots=2), heartbeat_timeout=2.0, supervise_every=0.1)
    try:
        assert {r.id for r in second.store.list_runs()} == {finishing, doomed}
        assert second.wait(finishing, timeout=60) == "done"
        assert second.store.get_run(doomed).status == "running"
        os.kill(pid, signal.SIGKILL)
        assert second.wait(doomed, timeout=30) == "failed"
        assert "no heartbeat" in second.store.get_run(doomed).error
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # never leave a worker behind, even when an assertion failed
        second.shutdown()


@pytest.mark.slow
def test_the_job_cap_queues_runs(data_dir):
    manager = JobManager(data_dir, settings=local_settings(slots=1), supervise_every=0.1)
    try:
        first = manager.submit("meta_rl", LONG_META_RL, by=OPERATOR)
        second = manager.submit("meta_rl", TINY_META_RL, by=OPERATOR)
        wait_for(lambda: "loss" in manager.store.metrics(first))  # the one slot is busy training
        manager.tick()
        assert manager.store.get_run(second).status == "queued"
        manager.stop(first, by=OPERATOR)
        assert manager.wait(second, timeout=60) == "done"
    finally:
        manager.shutdown(stop_runs=True)


def test_a_local_checkpoint_keeps_the_weights_as_they_were_at_the_call():
    layer = torch.nn.Linear(2, 2)
    ctx = LocalContext({})
    ctx.checkpoint({"model": layer.state_dict()})  # a live view, as every lab passes it
    before = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(1.0)
    assert torch.equal(ctx.checkpoints[0]["model"]["weight"], before)


def test_a_snapshots_step_reads_without_the_snapshot_and_a_sweep_is_its_base_runs_jobs(data_dir):
    manager = JobManager(data_dir, settings=local_settings(slots=0))  # no slot: the runs below stay queued
    store = manager.store
    base, other = store.create_runs("world_models", [{"world_run": 0}, {"world_run": 0}])
    jobs = store.create_runs("world_models", [{"world_run": base, "temperature": tau} for tau in (0.5, 1.0)])
    store.create_runs("world_models", [{"world_run": other}])
    assert [run.id for run in manager.sweep_of(base)] == jobs  # oldest first, only this base's
    assert manager.sweep_of(jobs[0]) == []
    meta_rl = store.create_runs("meta_rl", [{}])[0]
    assert manager.sweep_of(meta_rl) == []  # a lab without sweep_link has no sweeps
    assert store.snapshot_step(base, "viewer") is None
    store.put_snapshot(base, "viewer", 40, {"x": np.zeros(3)})
    store.put_snapshot(base, "viewer", 80, {"x": np.ones(3)})
    assert store.snapshot_step(base, "viewer") == 80 == store.snapshot(base, "viewer")[0]
    manager.shutdown()
