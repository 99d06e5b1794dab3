"""The store under threads: every Streamlit session's thread and the supervisor share one `Store`, and its
transactions must never interleave — no lost or half-written run, no metric twice, and a branch's file and record
that agree."""

import threading
import time

import torch

from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.store import Status, Store

THREADS, ROUNDS, STEPS = 6, 15, 4


def together(work, threads: int) -> list[BaseException]:
    """Run `work(index)` on `threads` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def body(index: int) -> None:
        start.wait()
        try:
            work(index)
        except BaseException as error:  # noqa: BLE001 collected for the assertion
            errors.append(error)

    workers = [threading.Thread(target=body, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def checkpoint(store: Store, run_id: int, step: int) -> None:
    store.save_run_checkpoint(run_id, {"w": torch.full((2,), float(step)), "resume": {"lab": "meta_rl", "step": step}})


def test_transactions_from_many_threads_lose_nothing_and_write_nothing_twice(tmp_path):
    store = Store(tmp_path)

    def visitor(index: int) -> None:
        for round_ in range(ROUNDS):
            first, second = store.create_runs("meta_rl", [{"round": round_}] * 2, owner=f"v{index}")
            assert store.claim(first, pid=1)
            store.add_metrics([(first, step, "loss", float(step)) for step in range(1, STEPS + 1)])
            checkpoint(store, first, STEPS)
            child = store.create_branch(store.get_run(first), {"round": round_}, owner=f"v{index}")
            assert store.requeue(store.get_run(first), "again", automatic=False)
            store.delete_run(second)
            assert child and store.list_runs(owner=f"v{index}")

    assert together(visitor, THREADS) == []
    runs = store.list_runs()
    assert len(runs) == THREADS * ROUNDS * 2  # each round: a parent (its batch partner deleted) and its branch
    for run in runs:
        steps = store.metrics(run.id)["loss"][0].tolist()
        assert steps == list(range(1, STEPS + 1)), (run.id, steps)  # nothing lost, nothing twice
        assert run.status == "queued" and run.checkpoint_step == STEPS
        assert load_checkpoint(store.checkpoint_path(run.id))["resume"]["step"] == STEPS
    assert not list(store.checkpoint_dir.glob("*.tmp")) and not list(store.checkpoint_dir.glob("branch-*"))


def test_a_branch_copies_a_checkpoint_and_a_step_that_agree_while_its_parent_checkpoints(tmp_path):
    store = Store(tmp_path)
    parent = store.create_run("meta_rl", {})
    store.add_metrics([(parent, 1, "loss", 1.0)])
    checkpoint(store, parent, 1)
    children: list[int] = []

    def work(index: int) -> None:
        if index == 0:  # the parent trains on: a metric, then a checkpoint at its step, often
            for step in range(2, 60):
                store.add_metrics([(parent, step, "loss", float(step))])
                checkpoint(store, parent, step)
                time.sleep(0.01)
        else:
            for _ in range(10):
                children.append(store.create_branch(store.get_run(parent), {}, owner="b"))

    assert together(work, 3) == []
    for child in children:
        run = store.get_run(child)
        state = load_checkpoint(store.checkpoint_path(child))
        assert state["resume"]["step"] == run.checkpoint_step == int(state["w"][0])
        assert store.metrics(child)["loss"][0].tolist() == list(range(1, run.checkpoint_step + 1))


def test_a_status_is_stored_as_its_word_and_read_back_as_a_status(tmp_path):
    """A database written before Status existed (plain words) reads the same; Status compares equal to its word."""
    store = Store(tmp_path)
    run_id = store.create_run("meta_rl", {}, "cli")
    store.claim(run_id, pid=0)
    store.finish(run_id, Status.DONE)
    assert store.db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone() == ("done",)
    run = store.get_run(run_id)
    assert run.status is Status.DONE and run.status == "done" and f"{run.status}" == "done"
    store.db.execute("UPDATE runs SET status='stopped' WHERE id=?", (run_id,))  # as an old database holds it
    assert store.get_run(run_id).status is Status.STOPPED
    assert [r.id for r in store.list_runs(statuses=(Status.STOPPED,))] == [run_id]
    store.close()
