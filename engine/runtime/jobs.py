"""The scheduler: which run starts, who may control it, and supervision. *How* a worker runs is a launcher's job.

- Submissions are validated (a bad config starts nothing), then checked against the hosted profile's limits,
  under one lock with the queueing itself (two tabs never pass a limit together): a visitor's active submissions
  (a sweep is one), and those of every visitor at their client address; the queue's length; the config's memory
  estimate; the visitor's disk budget; and, in both profiles, the data disk's free space.
- Dispatch is fair: the next slot goes to the queued run whose owner has the fewest runs training, oldest
  first. The live workers never outnumber the slots, paused ones included: a paused run keeps its worker (a
  resume is instant) until its slot is wanted, then its worker ends with a checkpoint ("parked"), and a resume
  starts it again from there, first when a slot frees.
- Every control call names a `Visitor`; a run's controls answer only its owner and the operator/admin.
- Supervision: an ended worker's run is finished with the reason; a run past its wall-clock limit, or paused
  past its limit, is stopped (its checkpoint stays); a stop not obeyed within a grace period, a trainer that
  stops polling, or a worker over its memory ceiling has its process group ended. A late heartbeat alone (a
  busy database) never fails a worker that is still alive, so a run is never failed while its worker runs on.
- Retention (the hosted profile): a run finished more than DREAMLAB_KEEP_DAYS ago loses its checkpoint and
  snapshots; its charts stay.
- Resume: a run outlives its worker. One whose worker died with an earlier server (found at this scheduler's
  first look: its last heartbeat is older than the scheduler) or went with its Ray node is queued again to resume
  from its checkpoint — from scratch, and saying so, when it has none — at most `MAX_RECOVERIES` times in a row
  without a new checkpoint between. Resume continues a stopped or failed run the same way; Branch starts a new
  run from another's checkpoint with changed values. The run's history says what happened (its "resumed" and
  "branched" events).

Any number of schedulers (the app, the CLI) may share one store: claiming a queued run is atomic, and a run
whose worker died is settled (resumed, or failed) by whichever scheduler notices first.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import threading
import time
from typing import Any

from engine.context import ResumePoint
from engine.labs import get_lab
from engine.params import ConfigError
from engine.runtime.access import Busy, Visitor
from engine.runtime.launchers import Launcher, LocalLauncher
from engine.runtime.settings import Settings
from engine.runtime.store import (
    ACTIVE,
    TRAINING,
    Run,
    Status,
    Store,
    params_now,
)

TYPICAL_RUN_SECONDS = 120.0  # a wait estimate's guess before any run of the lab has finished
MAX_RECOVERIES = 3  # automatic resumes of a run (restarts, lost nodes) with no progress between: then it fails
RESTART_GRACE = 3.0  # seconds a run from before this scheduler may go without a heartbeat: one claimed just then
# by another scheduler may not have its worker yet
RETENTION_EVERY = 3600.0  # seconds between two retention passes of the hosted profile
SUPERVISOR_BEAT = "supervisor.beat"  # a file in the data directory the supervisor touches: the health check reads it


def fair_order(queued: list[Run], running: list[Run], last_served: dict[str, float]) -> list[Run]:
    """Queued runs in dispatch order, round robin over visitors: whoever has fewer runs training goes first,
    then whoever was served longest ago (never, first), then the oldest run. A visitor's second queued run
    waits behind everyone else's first."""
    load: dict[str, int] = {}
    for run in running:
        load[run.owner] = load.get(run.owner, 0) + 1
    order = []
    for run in sorted(queued, key=lambda r: r.id):
        order.append(((load.get(run.owner, 0), last_served.get(run.owner, 0.0), run.id), run))
        load[run.owner] = load.get(run.owner, 0) + 1
    return [run for _, run in sorted(order, key=lambda entry: entry[0])]


class JobManager:
    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        settings: Settings | None = None,
        launcher: Launcher | None = None,
        heartbeat_timeout: float = 5.0,
        supervise_every: float = 0.25,
    ):
        self.store = Store(data_dir)
        self.settings = settings or Settings.from_env()
        if launcher is None and self.settings.ray_address:  # workers on a Ray cluster; the store stays here
            from engine.runtime.ray_launcher import RayLauncher, cluster_settings

            launcher = RayLauncher(self.store, self.settings.ray_address)
            self.settings = self.settings if settings else cluster_settings(self.settings)
        self.launcher = launcher or LocalLauncher(self.store, self.settings.memory_mb)
        self.heartbeat_timeout = heartbeat_timeout
        self.started = time.time()  # a run whose last heartbeat is older, and whose worker is gone, died before us
        self._lock = threading.Lock()
        self._admit = threading.Lock()  # a submission's limits are checked and its runs queued under it
        self._parking: dict[int, float] = {}  # paused runs asked to give their worker's memory back → when
        self._expired = 0.0  # when retention last ran
        self._closed = threading.Event()
        self._beat()  # healthy from the start: a server answers only once its job manager exists
        self._supervisor = threading.Thread(target=self._supervise, args=(supervise_every,), daemon=True)
        self._supervisor.start()

    @property
    def max_jobs(self) -> int:
        return self.settings.slots

    # what the UI and CLI call --------------------------------------------------------------------

    def submit(self, lab: str, overrides: dict[str, Any], preset: str | None = None, *, by: Visitor) -> int:
        """Validate, check the limits, queue, and dispatch if a slot is free. Raises ConfigError (a bad value),
        Busy (a limit) — and then starts nothing."""
        config = get_lab(lab).space.resolve(preset, overrides)
        return self._queue(lab, [config], by)[0]

    def submit_sweep(self, base_run_id: int, name: str, values: list[Any], *, by: Visitor) -> list[int]:
        """One job per value: the base run's config with `name` set, linked to the base run through the lab's
        `sweep_link` parameter (e.g. the World Models τ table: one controller per τ in one world). The jobs are
        one submission for the visitor's quota."""
        base = self._run(base_run_id)
        by.check(base, "sweep")
        if base.status != Status.DONE:
            raise ConfigError(f"run {base_run_id} is {base.status}: a sweep starts from a finished run")
        lab = get_lab(base.lab)
        link = {lab.sweep_link: base_run_id} if lab.sweep_link else {}
        return self.submit_batch(lab.name, [{**base.config, name: value, **link} for value in values], by=by)

    def submit_batch(self, lab: str, configs: list[dict[str, Any]], *, by: Visitor) -> list[int]:
        """Several runs of one lab, each config validated (all or none), as one submission for the visitor's
        quota."""
        space = get_lab(lab).space
        return self._queue(lab, [space.validate(config) for config in configs], by)

    def sweep_of(self, run_id: int) -> list[Run]:
        """The jobs of the sweeps started from `run_id` (their lab's `sweep_link` names it), oldest first."""
        run = self.store.get_run(run_id)
        link = get_lab(run.lab).sweep_link if run else ""
        if not link:
            return []
        return list(reversed(self.store.list_runs(lab=run.lab, linked=(link, run_id))))

    def pause(self, run_id: int, *, by: Visitor) -> None:
        run = self._controllable(run_id, by, "pause")
        if run.status == Status.QUEUED:
            raise ConfigError(f"run {run_id} is queued: it can be stopped, not paused")
        self.store.send_control(run_id, {"op": "pause"})

    def resume(self, run_id: int, *, by: Visitor) -> None:
        """A paused run holds no slot: it resumes at once if one is free, else first when one frees. A stopped or
        failed run (Stop, a time limit, a worker lost for good) is queued to continue from its checkpoint."""
        run = self._run(run_id)
        by.check(run, "resume")
        if run.status == Status.PAUSED:
            self.store.want_resume(run_id)
        elif run.status in (Status.QUEUED, Status.RUNNING):
            raise ConfigError(f"run {run_id} is {run.status}: there is nothing to resume")
        elif run.status == Status.DONE:
            raise ConfigError(f"run {run_id} is done: branch it to train it further")
        else:
            self._resume_point(run)
            with self._admit:
                self._check_limits(run.lab, [run.config], by)
                self._requeue(run, f"Resume pressed on a {run.status} run", automatic=False)
        self.tick()

    def branch(self, run_id: int, changes: dict[str, Any], *, by: Visitor) -> int:
        """A new run of `by`'s from another run's checkpoint, with the live values it trains with now and `changes`
        (only what the lab can take up mid-training); its charts start with the parent's, up to the checkpoint."""
        parent = self._run(run_id)
        lab = get_lab(parent.lab)
        changes = lab.space.validate_branch(changes)
        self._resume_point(parent)
        config = lab.space.validate({**params_now(parent.config, self.store.events(run_id)), **changes})
        self._check_free_disk()  # before the copy
        with self._admit:
            self._check_limits(lab.name, [config], by)
            child = self.store.create_branch(parent, config, by.id, by.client)
        step = self.store.get_run(child).checkpoint_step
        changed = ", ".join(f"{name}={value}" for name, value in changes.items()) or "no changes"
        self.store.add_event(
            child, step, "branched", {"message": f"branched from run #{run_id} at step {step} ({changed})"}
        )
        self.tick()
        return child

    def stop(self, run_id: int, *, by: Visitor) -> None:
        run = self._controllable(run_id, by, "stop")
        self._stop(run)

    def set_params(self, run_id: int, changes: dict[str, Any], *, by: Visitor) -> dict[str, Any]:
        run = self._controllable(run_id, by, "change")
        checked = get_lab(run.lab).space.validate_live(changes)
        self.store.send_control(run_id, {"op": "set", "params": checked})
        return checked

    def delete(self, run_id: int, *, by: Visitor) -> None:
        run = self._run(run_id)
        by.check(run, "delete")
        if run.active:
            raise ConfigError(f"run {run_id} is {run.status}: stop it before deleting it")
        self.store.delete_run(run_id)

    def queue_position(self, run_id: int) -> tuple[int, float] | None:
        """(1-based place in the dispatch order, estimated seconds until it starts) for a queued run."""
        queued = self.store.list_runs(statuses=(Status.QUEUED,))
        order = [
            r.id for r in fair_order(queued, self.store.list_runs(statuses=(Status.RUNNING,)), self.store.last_served())
        ]
        if run_id not in order:
            return None
        place = order.index(run_id) + 1
        return place, self._wait_estimate(place)

    def wait(self, run_id: int, timeout: float | None = None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.store.get_run(run_id)
            if run is None or not run.active:
                return run.status if run else "deleted"
            if deadline is not None and time.monotonic() > deadline:
                return run.status
            time.sleep(0.1)

    def shutdown(self, stop_runs: bool = False) -> None:
        """Stop supervising. Workers keep running unless asked to stop (a restarted app re-attaches)."""
        if stop_runs:
            for run in self.store.list_runs(statuses=ACTIVE):
                self._stop(run)
        self._closed.set()
        self._supervisor.join()

    # internals -----------------------------------------------------------------------------------

    def _run(self, run_id: int) -> Run:
        run = self.store.get_run(run_id)
        if run is None:
            raise ConfigError(f"no run {run_id}")
        return run

    def _controllable(self, run_id: int, by: Visitor, action: str) -> Run:
        run = self._run(run_id)
        by.check(run, action)
        if not run.active:
            raise ConfigError(f"run {run_id} is {run.status}, not running")
        return run

    def _stop(self, run: Run, note: str = "") -> None:
        if (run.status == Status.QUEUED or run.parked) and self.store.finish(run.id, Status.STOPPED, note=note):
            return  # no worker to tell
        self.store.request_stop(run.id, note)
        self.store.send_control(run.id, {"op": "stop"})

    def _resume_point(self, run: Run) -> ResumePoint:
        """The checkpoint `run` can continue from, or a ConfigError that says why it has none (missing, damaged,
        weights only, another lab's)."""
        record = self.store.load_run_checkpoint(run.id)
        try:
            return ResumePoint.of(record, run.lab)
        except ConfigError as error:
            raise ConfigError(f"run {run.id} cannot continue: {error}") from None

    def _step_of(self, run: Run) -> int:
        """How far it had come: the last step it logged or checkpointed."""
        return max(self.store.last_step(run.id), run.checkpoint_step or 0)

    def _requeue(self, run: Run, why: str, automatic: bool) -> None:
        at = self._step_of(run)
        if run.checkpoint_step is None:
            resumed, stage = "started over: it had no checkpoint yet", "starting over"
        else:
            resumed, stage = (
                f"resumed from its checkpoint at step {run.checkpoint_step}",
                f"resuming from step {run.checkpoint_step}",
            )
        if self.store.requeue(run, stage, automatic):
            self.store.add_event(
                run.id, run.checkpoint_step or 0, "resumed", {"message": f"{why} at step {at}; {resumed}"}
            )

    def _recover(self, run: Run, why: str) -> None:
        """A run whose worker was lost: queued to resume, at most MAX_RECOVERIES times without progress; a paused
        one is stopped (it was not training), for its owner to resume."""
        if run.status == Status.PAUSED:
            self.store.finish(
                run.id, Status.STOPPED, note=f"{why} at step {self._step_of(run)} while paused; Resume continues it"
            )
        elif run.recoveries >= MAX_RECOVERIES:
            self._fail(
                run,
                f"{why} at step {self._step_of(run)}; given up after {MAX_RECOVERIES} "
                f"automatic resumes without progress",
            )
        else:
            self._requeue(run, why, automatic=True)

    def _queue(self, lab: str, configs: list[dict[str, Any]], by: Visitor) -> list[int]:
        with self._admit:
            self._check_limits(lab, configs, by)
            ids = self.store.create_runs(lab, configs, by.id, by.client)
        self.tick()
        return ids

    def _check_free_disk(self) -> None:
        free = shutil.disk_usage(self.store.data_dir).free / 2**20
        if free < self.settings.min_free_mb:
            raise Busy(f"the server's disk is full ({free:,.0f} MB free): no new run can start until space is freed")

    def _check_limits(self, lab: str, configs: list[dict[str, Any]], by: Visitor) -> None:
        """Raise Busy when the hosted profile's limits (or the disk) do not allow `by` to queue these runs now."""
        limits = self.settings
        self._check_free_disk()
        if not by.admin:
            if limits.disk_per_visitor_mb and (used := self.store.disk_mb(by.id)) > limits.disk_per_visitor_mb:
                raise Busy(
                    f"your runs keep {used:,.0f} MB on this server, over the {limits.disk_per_visitor_mb:,.0f} MB "
                    f"per visitor: delete one on the Runs page"
                )
            if limits.runs_per_visitor:
                mine = self.store.list_runs(statuses=ACTIVE, owner=by.id)
                submissions = {run.batch or run.id for run in mine}
                if len(submissions) >= limits.runs_per_visitor:
                    raise Busy(
                        f"you already have {len(submissions)} active run(s) (#{mine[-1].id}); the demo "
                        f"allows {limits.runs_per_visitor} per visitor: stop one or wait for it to finish"
                    )
            if limits.runs_per_client and by.client:
                theirs = self.store.active_submissions(client=by.client)
                if theirs >= limits.runs_per_client:
                    raise Busy(
                        f"{theirs} run(s) from your address are active already; the demo allows "
                        f"{limits.runs_per_client} per address: wait for one to finish"
                    )
            if limits.queue_limit:
                waiting = self.store.count_runs(statuses=(Status.QUEUED,))
                if waiting + len(configs) > limits.queue_limit:
                    raise Busy(
                        f"the demo is busy: {waiting} runs are waiting for {limits.slots} slots. "
                        f"Please try again in a few minutes."
                    )
        if limits.memory_mb:
            need = max(get_lab(lab).memory_mb(config) for config in configs)
            if need > limits.memory_mb:
                raise Busy(
                    f"this configuration needs about {need:,.0f} MB, above this server's "
                    f"{limits.memory_mb:,.0f} MB per run: choose fewer rollouts, steps or a smaller model"
                )

    def _wait_estimate(self, place: int) -> float:
        running = self.store.list_runs(statuses=(Status.RUNNING,))
        recent = self.store.list_runs(statuses=(Status.DONE, Status.STOPPED), limit=20)
        finished = [r.updated - r.started for r in recent if r.started]
        typical = statistics.median(finished) if finished else TYPICAL_RUN_SECONDS
        free = self.settings.slots - len(running)
        if place <= free:
            return 0.0
        first_free = min((r.eta_seconds for r in running if r.eta_seconds is not None), default=typical)
        return first_free + (place - max(free, 0) - 1) // self.settings.slots * typical

    def _supervise(self, every: float) -> None:
        while not self._closed.wait(every):
            try:
                self.tick()
                self._retain()
                self._beat()
            except Exception as error:  # noqa: BLE001 keep supervising; a locked DB for a moment is no reason to stop
                print(f"dreamlab supervisor: {error}", file=sys.stderr)

    def _beat(self) -> None:
        (self.store.data_dir / SUPERVISOR_BEAT).touch()  # for the health check: the supervisor goes on

    def _retain(self) -> None:
        days = self.settings.keep_days
        if not days or time.time() - self._expired < RETENTION_EVERY:
            return
        self._expired = time.time()
        note = f"its checkpoint and snapshots were removed after {days:g} days; its charts stay"
        self.store.expire(time.time() - days * 86400, note)

    def tick(self) -> None:
        with self._lock:
            self._reap()
            self._enforce_limits()
            self._dispatch()

    def _fail(self, run: Run, reason: str) -> None:
        """A failed run never leaves its worker behind."""
        self.launcher.end(run)
        self.store.finish(run.id, Status.FAILED, error=reason)

    def _reap(self) -> None:
        for run_id, ended in self.launcher.exited().items():
            run = self.store.get_run(run_id)
            if run is not None and run.parked:
                continue  # its worker ended to give the memory back
            if ended.lost and run is not None and run.status in TRAINING:
                self._recover(run, ended.reason)
            else:
                self.store.finish(
                    run_id, Status.FAILED, error=ended.reason
                )  # a no-op when the worker finished it itself
        now = time.time()
        for run in self.store.list_runs(statuses=TRAINING):
            if run.heartbeat is None:
                continue
            if run.heartbeat < self.started and now - run.heartbeat > RESTART_GRACE and not self.launcher.alive(run):
                self._recover(run, "interrupted by a restart")  # its worker died with an earlier server
            elif now - run.heartbeat > self.heartbeat_timeout and not self.launcher.alive(run):
                self.store.finish(
                    run.id,
                    Status.FAILED,
                    error=f"worker stopped responding (no heartbeat for {now - run.heartbeat:.0f} s)",
                )

    def _enforce_limits(self) -> None:
        limits, now = self.settings, time.time()
        for run in self.store.list_runs(statuses=TRAINING):
            if run.stop_requested and now - run.stop_requested > limits.stop_grace_seconds:
                self.launcher.end(run)
                ended = f"its worker was ended {limits.stop_grace_seconds:.0f} s after the stop"
                self.store.finish(run.id, Status.STOPPED, note=f"{run.note}; {ended}" if run.note else ended)
            elif run.status == Status.RUNNING and run.polled and now - run.polled > limits.stall_seconds:
                self._fail(run, f"its trainer made no progress for {now - run.polled:.0f} s")
            elif limits.memory_mb and (used := self.launcher.memory_mb(run)) and used > limits.memory_mb:
                self._fail(run, f"it used {used:,.0f} MB, over the {limits.memory_mb:,.0f} MB per run")
            elif run.stop_requested:
                continue
            elif limits.run_seconds and run.started and now - run.started > limits.run_seconds:
                self._stop(run, f"stopped at the {limits.run_seconds / 60:g}-minute limit; Resume continues it")
            elif (
                limits.pause_seconds
                and run.status == Status.PAUSED
                and run.paused_at
                and now - run.paused_at > limits.pause_seconds
            ):
                self._stop(run, f"stopped after {limits.pause_seconds / 60:g} minutes paused; Resume continues it")

    def _live(self, runs: list[Run]) -> list[Run]:
        """The runs of `runs` that hold a worker (one that parked counts until its process is gone)."""
        return [run for run in runs if not run.parked or (run.pid and self.launcher.alive(run))]

    def _dispatch(self) -> None:
        training = self.store.list_runs(statuses=TRAINING)
        running = [run for run in training if run.status == Status.RUNNING]
        free = self.settings.slots - len(self._live(training))
        wanted = sorted(
            (r for r in training if r.status == Status.PAUSED and r.resume_wanted), key=lambda r: r.resume_wanted
        )
        waiting = 0  # runs left waiting for a slot
        for run in wanted:
            if not run.parked:  # its worker waits: resuming it takes no new slot
                if self.store.set_paused(run.id, False):
                    self.store.send_control(run.id, {"op": "resume"})
            elif free > 0 and not self._live([run]) and self._restart(run):
                free -= 1
            else:
                waiting += 1
        for run in fair_order(self.store.list_runs(statuses=(Status.QUEUED,)), running, self.store.last_served()):
            if free <= 0:
                waiting += 1
            elif self.store.claim(run.id, pid=0):  # else another scheduler took it
                self.launcher.start(self.store.get_run(run.id))
                free -= 1
        holding = [r for r in training if r.status == Status.PAUSED and not r.parked and not r.resume_wanted]
        self._park(sorted(holding, key=lambda r: r.paused_at or 0), waiting)

    def _restart(self, run: Run) -> bool:
        """A parked run's resume: a worker again, from its checkpoint."""
        self._requeue(run, "Resume pressed on a paused run whose worker had given its memory back", automatic=False)
        if not self.store.claim(run.id, pid=0):
            return False
        self.launcher.start(self.store.get_run(run.id))
        return True

    def _park(self, paused: list[Run], needed: int) -> None:
        """Ask the longest-paused workers to give their memory back, as many as runs wait for a slot."""
        now, holding = time.time(), {run.id for run in paused}
        self._parking = {
            run_id: when for run_id, when in self._parking.items() if run_id in holding and now - when < 60
        }
        asked = sum(1 for run in paused if run.id in self._parking)
        for run in paused:
            if asked >= needed:
                return
            if run.id not in self._parking:
                self.store.send_control(run.id, {"op": "park"})
                self._parking[run.id] = now
                asked += 1
