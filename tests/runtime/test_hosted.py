"""The hosted profile's engine: ownership checked in the API, quotas, a bounded queue, fair dispatch, and limits
on time and memory — with real workers and a real store."""

import os
import signal
import time

import pytest

from engine.labs import get_lab
from engine.params import ConfigError
from engine.runtime.access import OPERATOR, Busy, NotAllowed, Visitor
from engine.runtime.jobs import JobManager
from tests.conftest import LONG_META_RL, TINY_META_RL, local_settings
from tests.runtime.test_runtime import wait_for

ALICE, BOB = Visitor("alice"), Visitor("bob")


def hosted(**changes):
    knobs = {
        "hosted": True,
        "slots": 1,
        "runs_per_visitor": 1,
        "queue_limit": 3,
        "run_seconds": 0,
        "pause_seconds": 0,
        "memory_mb": 4096,
        "stop_grace_seconds": 60,
    }
    return local_settings(**(knobs | changes))


@pytest.fixture
def demo(data_dir, request):
    marker = request.node.get_closest_marker("settings")
    jobs = JobManager(
        data_dir, settings=hosted(**(marker.kwargs if marker else {})), heartbeat_timeout=2.0, supervise_every=0.1
    )
    yield jobs
    jobs.shutdown(stop_runs=True)
    for run in jobs.store.list_runs(statuses=("running", "paused")):
        jobs.wait(run.id, timeout=30)


def training(jobs: JobManager, run_id: int) -> None:
    wait_for(lambda: "loss" in jobs.store.metrics(run_id))


@pytest.mark.slow
def test_another_visitor_cannot_control_or_delete_a_run_but_its_owner_and_the_admin_can(demo):
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, run_id)
    for forged in (
        lambda: demo.pause(run_id, by=BOB),
        lambda: demo.stop(run_id, by=BOB),
        lambda: demo.resume(run_id, by=BOB),
        lambda: demo.set_params(run_id, {"lr": 0.01}, by=BOB),
        lambda: demo.delete(run_id, by=BOB),
        lambda: demo.stop(run_id, by=Visitor("")),
    ):
        with pytest.raises(NotAllowed, match="another visitor"):
            forged()
    assert demo.store.pending_controls(run_id) == []  # nothing reached the worker
    assert demo.store.get_run(run_id).status == "running"
    demo.set_params(run_id, {"lr": 0.002}, by=ALICE)
    wait_for(lambda: any(e["kind"] == "set" for e in demo.store.events(run_id)))
    demo.stop(run_id, by=Visitor("root", admin=True))
    assert demo.wait(run_id, timeout=60) == "stopped"
    with pytest.raises(NotAllowed):
        demo.delete(run_id, by=BOB)
    demo.delete(run_id, by=ALICE)
    assert demo.store.get_run(run_id) is None


@pytest.mark.slow
def test_a_visitor_gets_one_active_run_and_a_full_queue_says_busy(demo):
    first = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    with pytest.raises(Busy, match="per visitor"):
        demo.submit("meta_rl", TINY_META_RL, by=ALICE)
    queued = [demo.submit("meta_rl", TINY_META_RL, by=Visitor(name)) for name in ("bob", "carol", "dave")]
    with pytest.raises(Busy, match="the demo is busy"):
        demo.submit("meta_rl", TINY_META_RL, by=Visitor("erin"))
    assert len(demo.store.list_runs()) == 4  # the refused submissions queued nothing
    assert [demo.queue_position(run_id)[0] for run_id in queued] == [1, 2, 3]
    assert demo.queue_position(first) is None  # it is training
    demo.stop(first, by=ALICE)
    assert demo.wait(queued[0], timeout=90) == "done"
    demo.submit("meta_rl", TINY_META_RL, by=ALICE)  # a finished run frees the visitor's quota


@pytest.mark.slow
def test_a_batch_is_validated_all_or_none_and_counts_as_one_submission(demo):
    config = get_lab("meta_rl").space.resolve(None, LONG_META_RL)
    with pytest.raises(ConfigError, match="lr"):
        demo.submit_batch("meta_rl", [config, config | {"lr": "fast"}], by=ALICE)
    assert demo.store.list_runs() == []
    batch = demo.submit_batch("meta_rl", [config | {"seed": seed} for seed in (1, 2)], by=ALICE)
    assert [demo.store.get_run(run_id).config["seed"] for run_id in batch] == [1, 2]
    with pytest.raises(Busy, match="per visitor"):  # the batch was one submission: the visitor's one
        demo.submit("meta_rl", TINY_META_RL, by=ALICE)


@pytest.mark.slow
@pytest.mark.settings(runs_per_visitor=3, queue_limit=10)
def test_dispatch_is_fair_across_visitors(demo):
    alice = [demo.submit("meta_rl", LONG_META_RL, by=ALICE) for _ in range(3)]
    training(demo, alice[0])
    bob = demo.submit("meta_rl", LONG_META_RL, by=BOB)
    assert demo.queue_position(bob)[0] == 1  # ahead of Alice's two queued runs, though it came after them
    demo.stop(alice[0], by=ALICE)
    training(demo, bob)
    assert demo.store.get_run(alice[1]).status == "queued"


@pytest.mark.slow
@pytest.mark.settings(runs_per_visitor=2)
def test_a_paused_run_gives_its_slot_away_and_resumes_when_one_frees(demo):
    paused = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, paused)
    waiting = demo.submit("meta_rl", LONG_META_RL, by=BOB)
    assert demo.store.get_run(waiting).status == "queued"
    demo.pause(paused, by=ALICE)
    training(demo, waiting)  # the paused run held no slot
    demo.resume(paused, by=ALICE)
    run = demo.store.get_run(paused)
    assert run.status == "paused" and run.resume_wanted  # every slot is busy: it waits for one
    demo.stop(waiting, by=BOB)
    wait_for(lambda: demo.store.get_run(paused).status == "running")
    steps = len(demo.store.metrics(paused)["loss"][0])
    wait_for(lambda: len(demo.store.metrics(paused)["loss"][0]) > steps)  # and it trains again


@pytest.mark.slow
@pytest.mark.settings(run_seconds=2)
def test_a_run_past_its_wall_clock_limit_stops_with_its_checkpoint(demo):
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    assert demo.wait(run_id, timeout=120) == "stopped"
    run = demo.store.get_run(run_id)
    assert "limit" in run.note and demo.store.checkpoint_path(run_id).is_file()


@pytest.mark.slow
@pytest.mark.settings(pause_seconds=1)
def test_a_run_paused_past_its_limit_is_stopped(demo):
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, run_id)
    demo.pause(run_id, by=ALICE)
    assert demo.wait(run_id, timeout=60) == "stopped"
    assert "paused" in demo.store.get_run(run_id).note and demo.store.checkpoint_path(run_id).is_file()


def test_a_config_over_the_memory_budget_is_refused_at_submit(demo):
    demo.settings = hosted(memory_mb=get_lab("meta_rl").memory_mb(TINY_META_RL) - 1)
    with pytest.raises(Busy, match="MB"):
        demo.submit("meta_rl", TINY_META_RL, by=ALICE)
    assert demo.store.list_runs() == []


def test_carracing_frames_do_not_fit_the_demo_but_the_doom_quick_preset_does(demo):
    with pytest.raises(Busy, match="MB"):
        demo.submit("world_models", {}, preset="carracing", by=ALICE)  # ~6 GB of frames a round, three rounds
    assert demo.store.list_runs() == []
    assert get_lab("world_models").memory_mb(get_lab("world_models").space.resolve("quick", {})) < 4096


@pytest.mark.slow
def test_a_worker_over_its_memory_ceiling_fails_alone(demo, monkeypatch):
    import engine.labs

    monkeypatch.setattr(engine.labs, "WORKER_MB", 1)  # the estimate passes; torch alone then outgrows 60 MB
    demo.settings = hosted(memory_mb=60)
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    assert demo.wait(run_id, timeout=60) == "failed"
    run = demo.store.get_run(run_id)
    assert "MB" in run.error and not demo.launcher.alive(run)
    demo.settings = hosted()
    assert demo.wait(demo.submit("meta_rl", TINY_META_RL, by=BOB), timeout=90) == "done"  # the server goes on


@pytest.mark.slow
def test_a_silent_but_living_worker_is_never_orphaned(demo):
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, run_id)
    pid = demo.store.get_run(run_id).pid
    os.kill(pid, signal.SIGSTOP)  # no heartbeat, no progress: as if the database were locked for long
    try:
        stalled_since = time.time() - 2 * demo.settings.stall_seconds
        demo.store.beat(run_id, polled=stalled_since)  # its last poll, long ago; the stopped worker cannot renew it
        assert demo.wait(run_id, timeout=60) == "failed"
        run = demo.store.get_run(run_id)
        assert "no progress" in run.error  # not "no heartbeat": a late heartbeat alone fails no living worker
        wait_for(lambda: not demo.launcher.alive(run))  # failed, and its worker ended with it: no orphan
    finally:
        if demo.launcher.alive(demo.store.get_run(run_id)):
            os.killpg(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.settings(stop_grace_seconds=1)
def test_stop_ends_a_worker_that_does_not_obey(demo):
    run_id = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, run_id)
    os.kill(demo.store.get_run(run_id).pid, signal.SIGSTOP)
    demo.stop(run_id, by=ALICE)
    assert demo.wait(run_id, timeout=60) == "stopped"
    run = demo.store.get_run(run_id)
    assert "ended 1 s after the stop" in run.note
    wait_for(lambda: not demo.launcher.alive(run))


@pytest.mark.slow
def test_the_local_profile_has_no_quota_and_the_operator_controls_everything(manager):
    runs = [manager.submit("meta_rl", TINY_META_RL, by=Visitor("someone")) for _ in range(3)]
    assert len(manager.store.list_runs()) == 3
    manager.stop(runs[-1], by=OPERATOR)
    assert manager.wait(runs[-1], timeout=60) == "stopped"


def live_workers(jobs: JobManager) -> list[int]:
    return [run.id for run in jobs.store.list_runs() if run.pid and jobs.launcher.alive(run)]


@pytest.mark.slow
def test_a_paused_run_on_one_slot_leaves_one_live_worker(demo):
    paused = demo.submit("meta_rl", LONG_META_RL, by=ALICE)
    training(demo, paused)
    demo.pause(paused, by=ALICE)
    wait_for(lambda: demo.store.get_run(paused).status == "paused")
    assert live_workers(demo) == [paused]  # no one else wants the slot: its worker waits, a resume is instant
    waiting = demo.submit("meta_rl", LONG_META_RL, by=BOB)
    training(demo, waiting)
    assert live_workers(demo) == [waiting]  # the paused run gave its memory back for Bob's
    run = demo.store.get_run(paused)
    assert run.status == "paused" and run.parked and demo.store.checkpoint_path(paused).is_file()
    demo.resume(paused, by=ALICE)
    demo.stop(waiting, by=BOB)
    wait_for(lambda: demo.store.get_run(paused).status == "running")
    steps = demo.store.metrics(paused)["loss"][0]
    wait_for(lambda: len(demo.store.metrics(paused)["loss"][0]) > len(steps))  # from its checkpoint
    steps = demo.store.metrics(paused)["loss"][0].tolist()
    assert steps == sorted(set(steps))
    wait_for(lambda: live_workers(demo) == [paused])  # Bob's stopped worker exits


@pytest.mark.slow
@pytest.mark.settings(runs_per_visitor=1, runs_per_client=1, queue_limit=30)
def test_a_flood_of_cookies_from_one_client_gets_no_more_than_that_clients_share(demo):
    import threading

    cookies = [Visitor(f"cookie-{index}", client="203.0.113.9") for index in range(20)]
    accepted, refused = [], []
    start = threading.Barrier(len(cookies))

    def press_train(visitor: Visitor) -> None:
        start.wait()  # every tab at once: the limit is checked with the queueing, under one lock
        try:
            accepted.append(demo.submit("meta_rl", LONG_META_RL, by=visitor))
        except Busy as busy:
            refused.append(str(busy))

    threads = [threading.Thread(target=press_train, args=(visitor,)) for visitor in cookies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 1 and len(refused) == 19 and "per address" in refused[0]
    assert demo.submit("meta_rl", LONG_META_RL, by=Visitor("neighbour", client="198.51.100.7"))  # others still get in


def test_a_world_models_config_is_estimated_by_what_it_allocates():
    lab = get_lab("world_models")
    huge = lab.space.resolve(
        "quick",
        {"rnn_hidden": 1024, "rnn_window": 2100, "rnn_batch": 1024, "probe_dreams": 1024, "probe_episodes": 500},
    )
    assert lab.memory_mb(huge) > 20_000  # tens of GB: M's windows and the probe's dreams, not only the frames
    assert lab.memory_mb(lab.space.resolve("quick", {})) < 4096  # the demo's preset still fits
