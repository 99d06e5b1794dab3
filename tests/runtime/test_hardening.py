"""What a public demo left running for weeks meets: a database that is busy for a moment, a trainer that fails while
the store does too, a full disk, a config that allocates more than its estimate, and who a request comes from."""

import os
import sqlite3
import subprocess
import time

import pytest

from engine.runtime import worker
from engine.runtime.access import OPERATOR, Busy, client_address
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.jobs import JobManager
from engine.runtime.store import Store
from tests.conftest import LONG_META_RL, TINY_META_RL, local_settings
from tests.runtime.test_runtime import wait_for


class FlakyStore(Store):
    """A store whose writes fail while `failing` is set, as a locked database or a full disk would."""

    failing = False

    def beat(self, run_id, progress=None, stage=None, polled=None):
        if self.failing:
            raise sqlite3.OperationalError("database is locked")
        super().beat(run_id, progress, stage, polled)

    def add_metrics(self, rows):
        if self.failing and rows:
            raise sqlite3.OperationalError("database or disk is full")
        super().add_metrics(rows)


def test_a_heartbeat_outlives_a_database_busy_for_a_moment(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.05)
    store = FlakyStore(tmp_path)
    run_id = store.create_run("meta_rl", {})
    FlakyStore.failing = True
    heartbeat = worker.Heartbeat(lambda: store, run_id)
    heartbeat.start()
    try:
        time.sleep(0.3)
        assert heartbeat.is_alive() and store.get_run(run_id).heartbeat is None  # every beat failed: it went on
        FlakyStore.failing = False
        wait_for(lambda: store.get_run(run_id).heartbeat)
    finally:
        FlakyStore.failing = False
        heartbeat.done.set()
        heartbeat.join()


def test_a_failing_trainer_is_failed_with_its_own_error_when_the_store_fails_too(tmp_path, monkeypatch):
    from engine.labs.meta_rl import train

    def broken(config, ctx):
        ctx.log(1, loss=1.0)  # stored at once
        ctx.log(2, loss=1.0)  # waits for the next flush
        FlakyStore.failing = True  # the last metrics cannot be stored any more, but the run's end can
        raise ValueError("the trainer's own error")

    monkeypatch.setattr(train, "train", broken)
    store = FlakyStore(tmp_path)
    run_id = store.create_run("meta_rl", TINY_META_RL)
    try:
        assert worker.run_worker(lambda: store, run_id) == 1
    finally:
        FlakyStore.failing = False
    error = store.get_run(run_id).error
    assert error.startswith("ValueError: the trainer's own error") and "database or disk is full" in error


def test_who_a_request_comes_from():
    assert client_address("203.0.113.9", "10.0.0.1", ()) == "203.0.113.9"  # an untrusted peer's header is words
    assert client_address(None, "", ()) == "127.0.0.1"  # Streamlit names no address for this machine
    proxy = ("10.0.0.2",)
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.7", proxy) == "198.51.100.7"  # the proxy's own entry
    assert client_address("10.0.0.2", "", proxy) == "10.0.0.2"
    assert client_address("10.0.0.3", "93.184.216.34", ("private",)) == "93.184.216.34"  # a Space's proxy
    assert client_address("93.184.216.34", "1.2.3.4", ("private",)) == "93.184.216.34"  # a visitor on the internet


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 24 MB data directory of its own (tmpfs; root only), which the test fills to its last megabytes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)]).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    monkeypatch.setenv("DREAMLAB_MIN_FREE_MB", "8")  # the workers' too: they fail below half of it
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk, leave_mb: float) -> None:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as filler:
        filler.write(b"\0" * int(free - leave_mb * 2**20))


@pytest.mark.slow
def test_a_full_disk_fails_the_run_in_flight_with_its_reason_and_loses_nothing(small_disk):
    jobs = JobManager(small_disk, settings=local_settings(slots=1, min_free_mb=8), supervise_every=0.1)
    try:
        run_id = jobs.submit("meta_rl", LONG_META_RL | {"eval_every": 5}, by=OPERATOR)
        wait_for(lambda: (jobs.store.get_run(run_id).checkpoint_step or 0) >= 5, timeout=300)
        before = jobs.store.metrics(run_id)["loss"][0].tolist()
        fill(small_disk, leave_mb=2)
        assert jobs.wait(run_id, timeout=300) == "failed"
        run = jobs.store.get_run(run_id)
        assert run.error.startswith("DiskFull: the server's disk is full")
        after = jobs.store.metrics(run_id)["loss"][0].tolist()
        assert after[: len(before)] == before  # nothing already written is lost
        assert load_checkpoint(jobs.store.checkpoint_path(run_id))["resume"]["step"] == run.checkpoint_step
        assert not list(jobs.store.checkpoint_dir.glob("*.tmp"))
        with pytest.raises(Busy, match="^the server's disk is full"):
            jobs.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    finally:
        jobs.shutdown(stop_runs=True)
        jobs.store.close()


@pytest.mark.slow
def test_a_worker_over_its_memory_budget_is_ended_by_the_operating_systems_limit(data_dir):
    budget = 600  # above the tiny run's estimate and its resident memory
    jobs = JobManager(data_dir, settings=local_settings(slots=1, memory_mb=budget), supervise_every=0.1)
    try:
        run_id = jobs.submit("meta_rl", LONG_META_RL, by=OPERATOR)
        wait_for(lambda: "loss" in jobs.store.metrics(run_id), timeout=300)
        limits = open(f"/proc/{jobs.store.get_run(run_id).pid}/limits").read()
        limit = (budget + worker.ADDRESS_SPACE_SLACK_MB) * 2**20
        assert f"Max address space         {limit}" in limits  # the running worker is held by the kernel
    finally:
        jobs.shutdown(stop_runs=True)
    # what that limit does to a worker that allocates past it at once, faster than any poll of its memory
    past = (budget + worker.ADDRESS_SPACE_SLACK_MB + 1024) * 2**20  # a gigabyte past the limit, reserved at once
    grab = f"from engine.runtime.worker import limit_memory; limit_memory(); import numpy; numpy.empty({past}, 'u1')"
    env = {**os.environ, "DREAMLAB_WORKER_MEMORY_MB": str(budget)}
    ended = subprocess.run(["python", "-c", grab], env=env, capture_output=True, text=True)
    assert ended.returncode != 0 and "MemoryError" in ended.stderr


def test_retention_takes_old_runs_checkpoints_and_snapshots_and_keeps_their_charts(tmp_path):
    import numpy as np
    import torch

    store = Store(tmp_path)
    old, new = store.create_run("meta_rl", {}), store.create_run("meta_rl", {})
    for run_id in (old, new):
        store.add_metrics([(run_id, 1, "loss", 1.0)])
        store.put_snapshot(run_id, "regret", 1, np.zeros(3))
        store.save_run_checkpoint(run_id, {"w": torch.zeros(2), "resume": {"lab": "meta_rl", "step": 1}})
        store.finish(run_id, "done")
    assert store.disk_mb("") > 0
    assert store.expire(time.time() + 1, "expired") == [old, new]  # both finished before now + 1 s
    assert store.expire(time.time() + 1, "expired") == []  # nothing left to take
    for run_id in (old, new):
        run = store.get_run(run_id)
        assert run.checkpoint_step is None and run.note == "expired"
        assert not store.checkpoint_path(run_id).exists() and store.snapshot(run_id, "regret") is None
        assert store.metrics(run_id)["loss"][1].tolist() == [1.0]  # its charts stay
    assert store.disk_mb("") == 0


@pytest.mark.slow
def test_a_visitor_over_their_disk_budget_is_refused_with_one_line(data_dir):
    from engine.runtime.access import Visitor

    jobs = JobManager(data_dir, settings=local_settings(slots=1, disk_per_visitor_mb=1), supervise_every=0.1)
    try:
        alice = Visitor("alice", client="198.51.100.1")
        done = jobs.submit("meta_rl", TINY_META_RL, by=alice)
        assert jobs.wait(done, timeout=300) == "done"
        jobs.store.checkpoint_path(done).write_bytes(b"\0" * 2**21)  # as if its checkpoint were 2 MB
        with pytest.raises(Busy, match="^your runs keep 2 MB on this server, over the 1 MB per visitor"):
            jobs.submit("meta_rl", TINY_META_RL, by=alice)
        jobs.delete(done, by=alice)
        assert jobs.wait(jobs.submit("meta_rl", TINY_META_RL, by=alice), timeout=300) == "done"
    finally:
        jobs.shutdown(stop_runs=True)


def test_the_store_pages_through_ten_thousand_runs_by_its_indexes(tmp_path):
    store = Store(tmp_path)
    rows = [("meta_rl", "{}", ("done", "failed")[i % 2], i, i, f"v{i % 100}") for i in range(10_000)]
    with store.transaction() as db:
        db.executemany("INSERT INTO runs (lab, config, status, created, updated, owner) VALUES (?,?,?,?,?,?)", rows)
    page = store.list_runs(statuses=("done",), limit=50, offset=50)
    assert len(page) == 50 and page[0].id == 10_000 - 101 and store.count_runs(statuses=("done",)) == 5000
    for query, args in (
        ("SELECT * FROM runs WHERE status IN (?) ORDER BY id DESC LIMIT 50", ("done",)),
        ("SELECT * FROM runs WHERE owner=? AND status IN (?, ?, ?)", ("v1", "queued", "running", "paused")),
        ("SELECT * FROM runs WHERE lab=? ORDER BY id DESC LIMIT 50", ("meta_rl",)),
    ):
        plan = " ".join(row[-1] for row in store.db.execute(f"EXPLAIN QUERY PLAN {query}", args))
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (query, plan)
