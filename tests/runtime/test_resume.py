"""Resume: every lab's trainer continues from its own checkpoint exactly; the scheduler resumes runs after a restart
(the whole server killed), on Resume, and branches them with new values; bad requests start nothing."""

import json
import os
import signal
import time

import pytest

from engine.context import LocalContext, ResumePoint
from engine.labs import get_lab
from engine.params import ConfigError
from engine.runtime.access import OPERATOR, NotAllowed, Visitor
from engine.runtime.jobs import MAX_RECOVERIES, RESTART_GRACE, JobManager
from engine.runtime.launchers import is_worker
from engine.runtime.store import Store
from tests.conftest import TINY_META_RL, local_settings, start_app
from tests.labs import test_tdm, test_tournament, test_world_models
from tests.runtime.test_runtime import wait_for

TINY = {
    "meta_rl": TINY_META_RL | {"updates": 6},
    "tdm": test_tdm.TINY_TDM,
    "tournament": test_tournament.TINY,
    "world_models": test_world_models.TINY,
}
# World Models' series count their steps apart (V epochs, M updates, CMA-ES generations): its exact-resume test, with
# the charts compared in the order they were logged, is test_world_models.test_a_run_resumed_in_c_ends_exactly_…
SAME_STEPS = [lab for lab in TINY if lab != "world_models"]
TIMES = ("train_seconds", "seconds")  # wall-clock figures: the only ones a resumed run may differ in


def figures(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if not any(key.endswith(t) for t in TIMES)}


@pytest.mark.parametrize("lab", SAME_STEPS)
def test_a_run_resumed_from_a_checkpoint_ends_exactly_as_if_never_interrupted(lab):
    """Checkpoints at every point a trainer can continue from; the run is 'killed' after three quarters of its polls
    and resumed from a checkpoint taken well before that: the steps between are done again, as after a crash."""
    train = get_lab(lab).train_fn()
    config = get_lab(lab).space.resolve("quick", TINY[lab])
    whole = LocalContext(config)
    expected = train(config, whole)

    first = LocalContext(config, stop_after_polls=whole.polls * 3 // 4, checkpoint_seconds=0)
    train(config, first)
    resumable = [record for record in first.checkpoints if "resume" in record]
    point = ResumePoint.of(resumable[len(resumable) * 2 // 3], lab="")
    assert 0 < point.step
    second = LocalContext(config, resume=point)
    assert figures(train(config, second)) == figures(expected)
    for name, series in whole.metrics.items():  # the charts continue: no gap, no step twice
        before = [(step, value) for step, value in first.metrics.get(name, []) if step <= point.step]
        assert before + second.metrics.get(name, []) == series, name


# the scheduler -------------------------------------------------------------------------------------------------

# a meta_rl run of a few seconds in a worker, with a checkpoint every other update
SHORT_META_RL = TINY_META_RL | {"updates": 40, "eval_every": 2, "live_eval_episodes": 10}


def steps_once(store, run_id: int, name: str = "loss") -> list[int]:
    steps = list(store.metrics(run_id)[name][0])
    assert len(steps) == len(set(steps)), f"a step logged twice: {steps}"
    return steps


def history(store, run_id: int) -> list[str]:
    return store.histories().get(run_id, [])


@pytest.mark.slow
def test_a_stopped_run_resumes_on_resume_and_ends_as_the_uninterrupted_run(manager):
    whole = manager.submit("meta_rl", SHORT_META_RL, by=OPERATOR)
    assert manager.wait(whole, timeout=120) == "done"
    run_id = manager.submit("meta_rl", SHORT_META_RL, by=OPERATOR)
    wait_for(lambda: manager.store.get_run(run_id).checkpoint_step, timeout=120)
    manager.stop(run_id, by=OPERATOR)
    assert manager.wait(run_id, timeout=60) == "stopped"
    stopped_at = manager.store.get_run(run_id).checkpoint_step
    assert stopped_at < SHORT_META_RL["updates"]
    manager.resume(run_id, by=OPERATOR)
    assert manager.wait(run_id, timeout=120) == "done", manager.store.get_run(run_id).error
    assert steps_once(manager.store, run_id) == list(range(1, SHORT_META_RL["updates"] + 1))
    assert manager.store.metrics(run_id)["loss"][1].tolist() == manager.store.metrics(whole)["loss"][1].tolist()
    assert figures(manager.store.get_run(run_id).summary) == figures(manager.store.get_run(whole).summary)
    assert history(manager.store, run_id) == [
        f"Resume pressed on a stopped run at step {stopped_at}; resumed from its checkpoint at step {stopped_at}"
    ]


@pytest.mark.slow
def test_a_run_whose_worker_died_with_the_server_resumes_when_a_scheduler_starts(data_dir):
    first = JobManager(data_dir, settings=local_settings(slots=2), supervise_every=0.1)
    run_id = first.submit("meta_rl", SHORT_META_RL | {"updates": 400}, by=OPERATOR)
    wait_for(lambda: (first.store.get_run(run_id).checkpoint_step or 0) >= 4, timeout=120)
    first.shutdown()  # the server goes, and with it (below) its worker
    os.killpg(first.store.get_run(run_id).pid, signal.SIGKILL)
    wait_for(lambda: not is_worker(first.store.get_run(run_id).pid, run_id, data_dir))
    second = JobManager(data_dir, settings=local_settings(slots=2), supervise_every=0.1)
    try:
        event = wait_for(lambda: history(second.store, run_id), timeout=10)[0]
        assert event.startswith("interrupted by a restart at step ") and "resumed from its checkpoint" in event
        wait_for(
            lambda: (
                second.store.get_run(run_id).status == "running"
                and second.store.last_step(run_id) > second.store.get_run(run_id).checkpoint_step
            ),
            timeout=60,
        )
        assert len(history(second.store, run_id)) == 1
        steps = steps_once(second.store, run_id)
        assert steps == list(range(1, len(steps) + 1))  # no gap
    finally:
        second.shutdown(stop_runs=True)
        second.wait(run_id, timeout=30)


@pytest.mark.slow
def test_a_run_without_a_checkpoint_starts_over_and_says_so(manager):
    run_id = manager.store.create_run("meta_rl", get_lab("meta_rl").space.resolve("quick", TINY_META_RL), "cli")
    manager.store.claim(run_id, pid=0)  # as a worker of an earlier server left it: running, then gone
    manager.store.add_metrics([(run_id, 1, "loss", 1.0)])
    manager.started = time.time() + RESTART_GRACE + 1  # this scheduler started after its last heartbeat
    assert manager.wait(run_id, timeout=60) == "done"
    assert history(manager.store, run_id) == [
        "interrupted by a restart at step 1; started over: it had no checkpoint yet"
    ]
    assert steps_once(manager.store, run_id) == list(range(1, TINY_META_RL["updates"] + 1))


@pytest.mark.slow
def test_automatic_resumes_are_bounded(manager):
    run_id = manager.store.create_run("meta_rl", get_lab("meta_rl").space.resolve("quick", TINY_META_RL), "cli")
    manager.store.claim(run_id, pid=0)
    manager.store.db.execute("UPDATE runs SET recoveries=? WHERE id=?", (MAX_RECOVERIES, run_id))
    manager.started = time.time() + RESTART_GRACE + 1
    assert manager.wait(run_id, timeout=10) == "failed"
    assert f"given up after {MAX_RECOVERIES} automatic resumes without progress" in manager.store.get_run(run_id).error


@pytest.mark.slow
def test_a_branch_starts_from_its_parents_checkpoint_with_new_values(manager):
    parent = manager.submit("meta_rl", SHORT_META_RL, by=OPERATOR)
    assert manager.wait(parent, timeout=120) == "done"
    manager.store.add_event(parent, 5, "set", {"lr": 0.002})  # a live change it made: the branch keeps it
    child = manager.branch(parent, {"updates": 50, "entropy_coef": 0.01}, by=OPERATOR)
    assert manager.wait(child, timeout=120) == "done", manager.store.get_run(child).error
    run = manager.store.get_run(child)
    assert run.parent == parent and run.config["updates"] == 50 and run.config["lr"] == 0.002
    assert steps_once(manager.store, child) == list(range(1, 51))  # the parent's charts, then its own
    assert manager.store.metrics(child)["loss"][1][:40].tolist() == manager.store.metrics(parent)["loss"][1].tolist()
    assert history(manager.store, child) == [f"branched from run #{parent} at step 40 (updates=50, entropy_coef=0.01)"]


def finished_run(store, status: str, lab: str = "meta_rl", owner: str = "cli") -> int:
    run_id = store.create_run(lab, get_lab(lab).space.resolve("quick", TINY[lab]), owner)
    store.claim(run_id, pid=0)
    if status != "running":
        store.finish(run_id, status)
    return run_id


def save_resumable(store, run_id: int, lab: str = "meta_rl", step: int = 2) -> None:
    store.save_run_checkpoint(run_id, {"model": {}, "resume": {"lab": lab, "step": step, "stage": "training"}})


@pytest.mark.parametrize(
    "status, message",
    [("running", "is running: there is nothing to resume"), ("done", "is done: branch it to train it further")],
)
def test_resuming_a_running_or_done_run_is_refused(manager, status, message):
    run_id = finished_run(manager.store, status)
    save_resumable(manager.store, run_id)
    with pytest.raises(ConfigError, match=message):
        manager.resume(run_id, by=OPERATOR)
    assert manager.store.get_run(run_id).status == status


def test_resuming_another_visitors_run_is_refused(data_dir):
    hosted = JobManager(data_dir, settings=local_settings(hosted=True, runs_per_visitor=1, queue_limit=4))
    try:
        run_id = finished_run(hosted.store, "stopped", owner=Visitor("alice").id)
        save_resumable(hosted.store, run_id)
        with pytest.raises(NotAllowed, match="belongs to another visitor"):
            hosted.resume(run_id, by=Visitor("bob"))
        assert hosted.store.get_run(run_id).status == "stopped"
    finally:
        hosted.shutdown()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lr": 5.0}, "above the maximum"),
        ({"hidden": 16}, "hidden cannot change mid-training"),
        ({"nonsense": 1}, "unknown parameter"),
    ],
)
def test_a_bad_branch_is_refused(manager, changes, message):
    parent = finished_run(manager.store, "done")
    save_resumable(manager.store, parent)
    with pytest.raises(ConfigError, match=message):
        manager.branch(parent, changes, by=OPERATOR)
    assert [r.id for r in manager.store.list_runs()] == [parent]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(b"not a checkpoint"), "checkpoint cannot be read"),
        (lambda path: path.unlink(), "has no checkpoint"),
        (None, "from the tdm lab, not meta_rl"),
    ],
)
def test_a_bad_checkpoint_is_refused_for_resume_and_branch(manager, damage, message):
    run_id = finished_run(manager.store, "stopped")
    save_resumable(manager.store, run_id, lab="tdm")
    if damage:
        save_resumable(manager.store, run_id)
        damage(manager.store.checkpoint_path(run_id))
    with pytest.raises(ConfigError, match=message):
        manager.resume(run_id, by=OPERATOR)
    with pytest.raises(ConfigError, match=message):
        manager.branch(run_id, {}, by=OPERATOR)
    assert [(r.id, r.status) for r in manager.store.list_runs()] == [(run_id, "stopped")]


# the whole server killed -----------------------------------------------------------------------------------------

SERVER_RUNS = {  # a worker's run of some seconds, with checkpoints at its evaluations
    "meta_rl": SHORT_META_RL | {"updates": 80, "eval_every": 4},
    "tdm": test_tdm.TINY_TDM | {"env_steps": 400, "eval_every": 50},
    "tournament": test_tournament.TINY | {"rounds": 200, "eval_every": 20},
    "world_models": test_world_models.TINY | {"cma_generations": 60, "dream_length": 1000},  # C: its resume points
}


@pytest.mark.slow
@pytest.mark.parametrize("lab", list(SERVER_RUNS))
def test_a_run_survives_the_whole_server_killed_and_ends_as_if_never_interrupted(tmp_path, lab):
    """SIGKILL to the server and its worker mid-run; the app started again resumes the run with no page visited."""
    config = get_lab(lab).space.resolve("quick", SERVER_RUNS[lab])
    expected = json.loads(json.dumps(figures(get_lab(lab).train_fn()(config, LocalContext(config)))))
    store = Store(tmp_path)
    run_id = store.create_run(lab, config, "cli")
    server, _ = start_app(tmp_path)  # no page is opened, ever: the server itself starts the run
    try:
        wait_for(lambda: store.get_run(run_id).checkpoint_step, timeout=180)
    finally:
        server.kill()
        os.killpg(store.get_run(run_id).pid, signal.SIGKILL)
        server.wait()
    killed = store.get_run(run_id)
    assert killed.status == "running"  # nobody is left to say otherwise
    restarted = time.time()
    server, _ = start_app(tmp_path)
    try:
        message = wait_for(lambda: history(store, run_id), timeout=60)[0]
        resumed = next(e for e in store.events(run_id) if e["kind"] == "resumed")
        print(f"{lab}: resumed {resumed['time'] - restarted:.1f} s after the server was started again: {message}")
        assert message.startswith("interrupted by a restart at step ")
        assert message.endswith(f"resumed from its checkpoint at step {killed.checkpoint_step}")
        assert wait_for(lambda: not (run := store.get_run(run_id)).active and run, timeout=300).status == "done"
        assert figures(store.get_run(run_id).summary) == expected
        for name in store.metrics(run_id):
            steps_once(store, run_id, name)
    finally:
        server.terminate()
        server.wait(timeout=30)


# the command line ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_cli_branches_and_resumes_with_clear_refusals(data_dir):
    from tests.runtime.test_cli import cli

    sets = [arg for key, value in SHORT_META_RL.items() for arg in ("--set", f"{key}={value}")]
    parent = json.loads(cli("train", "meta_rl", *sets, "--json", data_dir=data_dir).stdout)
    assert parent["status"] == "done"
    child = cli(
        "train",
        "meta_rl",
        "--from",
        str(parent["run"]),
        "--set",
        "updates=44",
        "--set",
        "lr=0.002",
        "--json",
        data_dir=data_dir,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout)["status"] == "done"
    for args, message in [
        (("resume", str(parent["run"])), f"error: run {parent['run']} is done: branch it to train it further"),
        (("resume", "99"), "error: no run 99"),
        (("train", "tdm", "--from", str(parent["run"])), f"error: run {parent['run']} is a meta_rl run, not tdm"),
        (("train", "meta_rl", "--from", str(parent["run"]), "--set", "seed=3"), "error: seed cannot change"),
    ]:
        refused = cli(*args, data_dir=data_dir)
        assert refused.returncode == 2 and refused.stderr.strip().startswith(message), refused.stderr
    assert len(json.loads(cli("runs", "--json", data_dir=data_dir).stdout)) == 2  # nothing more started


# the pages -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_resumes_a_stopped_run_branches_it_and_the_runs_table_says_so(fresh_app):
    from tests.helpers import open_page
    from ui.engine import job_manager

    manager = job_manager()
    run_id = manager.submit("meta_rl", SHORT_META_RL, by=OPERATOR)
    wait_for(lambda: manager.store.get_run(run_id).checkpoint_step, timeout=120)
    manager.stop(run_id, by=OPERATOR)
    assert manager.wait(run_id, timeout=60) == "stopped"
    page = open_page("meta_rl", run=str(run_id))
    assert page.button(key="meta_rl.pause").label == "Resume"
    page.button(key="meta_rl.pause").click().run()
    assert manager.wait(run_id, timeout=120) == "done"

    page = open_page("meta_rl", run=str(run_id))
    page.number_input(key=f"meta_rl.branch.{run_id}.updates").set_value(44).run()
    page.button(key=f"meta_rl.branch.{run_id}").click().run()
    child = manager.store.list_runs()[0]
    assert child.parent == run_id and child.config["updates"] == 44
    assert manager.wait(child.id, timeout=120) == "done"
    table = open_page("runs").dataframe[0].value.set_index("id")["history"]
    assert table[run_id].startswith("Resume pressed on a stopped run at step ")
    assert table[child.id] == f"branched from run #{run_id} at step {SHORT_META_RL['updates']} (updates=44)"


@pytest.mark.slow
def test_the_hosted_server_settles_a_visitors_run_at_start_without_a_visit(tmp_path):
    store = Store(tmp_path)
    owner = Visitor("alice").id
    run_id = store.create_run("meta_rl", get_lab("meta_rl").space.resolve("quick", TINY_META_RL), owner)
    store.claim(run_id, pid=0)  # as a worker of an earlier server left it: training, then gone with that server
    server, _ = start_app(tmp_path, DREAMLAB_MODE="demo")
    try:
        assert wait_for(lambda: not (run := store.get_run(run_id)).active and run, timeout=120).status == "done"
        assert store.get_run(run_id).owner == owner
        assert history(store, run_id) == ["interrupted by a restart at step 0; started over: it had no checkpoint yet"]
    finally:
        server.terminate()
        server.wait(timeout=30)
