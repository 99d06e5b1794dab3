"""The Ray launcher: each run is one Ray actor holding one CPU, somewhere on a cluster (`DREAMLAB_RAY_ADDRESS`).

The scheduler (jobs.py) is unchanged: it decides which run starts, supervises, and talks to a `Launcher`. This
one starts a run as a detached, named actor (`dreamlab-run-<store>-<id>`) that runs the same `run_worker` as a
local subprocess, against a `RemoteStore` whose writes reach the app's SQLite through the `StoreActor` pinned
to this machine (ray_store.py says how and why). Detached, like a local worker that outlives a restart of the
app: a restarted app finds its runs again by name.

- Faults: the actor's `train` call is watched; a worker that Ray killed (ray.kill, its memory monitor) or
  that died is reported by `exited()` with Ray's reason. A node that vanishes first shows as an unreachable
  actor: it is pinged (its `ping` answers from its own thread while it trains), and one that does not answer
  within a second is reported lost and killed; a worker lost with its node is resumed elsewhere (jobs.py).
- `end()` kills the actor (its process and, by Ray's default, its children).
- An unreachable address fails in seconds with a clear message, before `ray.init` (which waits for minutes).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.params import ConfigError
from engine.runtime.launchers import Exit, describe_exit, worker_env_vars
from engine.runtime.ray_store import NAMESPACE, LogStream, RemoteStore, StoreActor, store_actor_name
from engine.runtime.settings import Settings, queue_limit_for
from engine.runtime.store import Run, Store

CONNECT_TIMEOUT = 5.0  # seconds to reach the cluster's GCS before giving up with a message
PING_TIMEOUT = 1.0  # a worker whose call failed and that does not answer a ping within this is gone
SELF_EXIT_SECONDS = 10.0  # a finished worker ends itself, even when no scheduler is left to reap it


RAY_NODE = re.compile(r"ray node \S+ ([0-9a-f]+) pid \d+")  # a run's `node` while a Ray worker runs it


def node_label(ip: str, node_id: str, pid: int) -> str:
    """A Ray worker's `node` in its run's row: the node's address, its id's first 8 hex digits, the worker's pid."""
    return f"ray node {ip} {node_id[:8]} pid {pid}"


def node_id_prefix(node: str) -> str:
    """The node id's first 8 hex digits in a run's `node` written by `node_label` ('' for any other)."""
    match = RAY_NODE.fullmatch(node)
    return match.group(1) if match else ""


class RayUnavailable(ConfigError):
    """The Ray cluster named by DREAMLAB_RAY_ADDRESS (or --ray) cannot be used. The message says what to do."""


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Join the cluster as a driver (this machine must be one of its nodes), or fail fast with a message."""
    if address.startswith("ray://"):
        raise RayUnavailable(
            f"{address}: Ray Client addresses are not supported — the store lives on the app's "
            f"machine, so it must be a node of the cluster: run `ray start --address=HEAD:6379` "
            f"here and set DREAMLAB_RAY_ADDRESS=HEAD:6379"
        )
    if address != "auto":
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                pass
        except (OSError, ValueError) as error:
            raise RayUnavailable(
                f"cannot reach the Ray cluster at {address} (DREAMLAB_RAY_ADDRESS): {error}. Start one with "
                f"`ray start --head` (and `ray start --address=…` on the other machines), or unset "
                f"DREAMLAB_RAY_ADDRESS to train on this machine."
            ) from None
    if ray.is_initialized():  # this process already drives a cluster (a second manager, a test): the same one?
        connected = ray.get_runtime_context().gcs_address
        if address != "auto" and connected != address:
            raise RayUnavailable(f"this process is already connected to the Ray cluster at {connected}, not {address}")
        return
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayUnavailable(f"cannot join the Ray cluster at {address}: {error}") from None


def cluster_settings(settings: Settings) -> Settings:
    """Slots on a cluster: its CPUs (one per run), unless DREAMLAB_MAX_JOBS says otherwise; the hosted queue
    limit follows them unless DREAMLAB_QUEUE_LIMIT is set."""
    if os.environ.get("DREAMLAB_MAX_JOBS", "").strip():
        return settings
    slots = max(1, int(ray.cluster_resources().get("CPU", 0)))
    return replace(
        settings, slots=slots, queue_limit=queue_limit_for(slots) if settings.hosted else settings.queue_limit
    )


WAITING = ("DEPENDENCIES_UNREADY", "PENDING_CREATION", "RESTARTING")  # an actor not placed yet is not a dead one


def _actor_state(actor: Any | None) -> str | None:
    """The GCS's state of an actor (ALIVE, PENDING_CREATION, DEAD…); None when unknown. Plain `ray` has no
    ray.util.state (that needs the dashboard), so this asks the GCS client that ray.init opened."""
    if actor is None:
        return None
    try:
        from ray._private.state import actors

        return actors(actor._actor_id.hex()).get("State")
    except Exception:  # noqa: BLE001 a private API: unknown is the safe answer
        return None


def _actor_reason(error: Exception) -> str:
    """Ray's own sentence on why an actor died, e.g. 'The actor is dead because its node has died.'"""
    text = str(error)
    found = re.search(r"The actor is dead because[^\n]*", text)
    if "OutOfMemoryError" in type(error).__name__ or "memory monitor" in text:
        return "Ray's memory monitor killed its worker (the node ran out of memory)"
    if isinstance(error, ray.exceptions.RayTaskError):  # the worker raised past run_worker (e.g. the store failed)
        return f"its Ray worker failed: {text.strip().splitlines()[-1]}"
    return f"its Ray worker died: {found.group(0) if found else text.strip().splitlines()[0]}"


def _end_self() -> None:
    try:
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
    except Exception:  # noqa: BLE001 whatever Ray says, this process is done
        os._exit(0)


@ray.remote(max_restarts=0, max_task_retries=0, concurrency_groups={"watch": 1})
class RunWorker:
    """One run on one node: `run_worker` with a store whose writes go to the app's machine."""

    def __init__(self, store_actor: Any, data_dir: str, run_id: int):
        self.store_actor, self.data_dir, self.run_id = store_actor, data_dir, run_id

    def train(self) -> int:
        from engine.runtime.worker import run_worker

        store = RemoteStore(self.store_actor, self.data_dir)
        context = ray.get_runtime_context()
        store.set_node(self.run_id, node_label(ray.util.get_node_ip_address(), context.get_node_id(), os.getpid()))
        sys.stdout = sys.stderr = LogStream(store, self.run_id)
        try:
            return run_worker(lambda: store, self.run_id)
        finally:
            store.close()
            # nobody may be left to reap a detached actor (its app went away): it ends itself soon after answering
            threading.Timer(SELF_EXIT_SECONDS, _end_self).start()

    @ray.method(concurrency_group="watch")
    def ping(self) -> int:
        return self.run_id


class RayLauncher:
    """Runs as Ray actors on a cluster; the store stays in this machine's data directory."""

    def __init__(self, store: Store, address: str, connect_timeout: float = CONNECT_TIMEOUT):
        self.store = store
        connect(address, connect_timeout)
        self.data_dir = str(store.data_dir.resolve())
        self.key = hashlib.sha256(f"{socket.gethostname()}:{self.data_dir}".encode()).hexdigest()[:10]
        node_id = ray.get_runtime_context().get_node_id()
        self.store_actor = StoreActor.options(
            name=store_actor_name(node_id),
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            runtime_env=self._env(),
        ).remote()
        ray.get(self.store_actor.ready.remote(), timeout=120)  # a first start imports torch: can take a while
        self.calls: dict[int, ray.ObjectRef] = {}  # run → its `train` call, for the runs this launcher started
        self.actors: dict[int, Any] = {}
        self.unreachable: dict[int, float] = {}  # run → when its call failed with the actor unreachable
        self._memory: tuple[float, dict[int, float]] = (0.0, {})
        self._end_strays()

    @staticmethod
    def _env() -> dict[str, Any]:
        return {"env_vars": worker_env_vars()}

    def _name(self, run_id: int) -> str:
        return f"dreamlab-run-{self.key}-{run_id}"

    def _actor(self, run: Run) -> Any | None:
        if run.id in self.actors:
            return self.actors[run.id]
        try:
            return ray.get_actor(self._name(run.id), namespace=NAMESPACE)
        except ValueError:
            return None

    def _end_strays(self) -> None:
        """Actors of this store whose run is over (their scheduler went away before reaping them) end now."""
        prefix = f"dreamlab-run-{self.key}-"
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry["namespace"] == NAMESPACE and entry["name"].startswith(prefix):
                run = self.store.get_run(int(entry["name"][len(prefix) :]))
                if run is None or not run.active:
                    self._kill_named(entry["name"])

    def _kill_named(self, name: str) -> None:
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except ValueError:
            pass

    def start(self, run: Run) -> None:
        self._kill_named(self._name(run.id))  # a leftover of a deleted store's run with the same id
        # a GPU only when the run's config asks for CUDA and the cluster has one (no lab asks yet)
        gpus = 1 if run.config.get("device") == "cuda" and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        actor = RunWorker.options(
            name=self._name(run.id),
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=1,
            num_gpus=gpus,
            scheduling_strategy="SPREAD",
            runtime_env=self._env(),
        ).remote(self.store_actor, self.data_dir, run.id)
        self.actors[run.id] = actor
        self.calls[run.id] = actor.train.remote()
        self.store.set_node(run.id, "ray: waiting for a node with a free CPU")

    def exited(self) -> dict[int, Exit]:
        ended: dict[int, Exit] = {}
        if self.calls:
            ready, _ = ray.wait(list(self.calls.values()), num_returns=len(self.calls), timeout=0)
            done = set(ready)
            for run_id, call in list(self.calls.items()):
                if call not in done:
                    continue
                del self.calls[run_id]
                try:
                    ended[run_id] = Exit(describe_exit(ray.get(call)))
                except ray.exceptions.ActorUnavailableError:
                    self.unreachable[run_id] = time.monotonic()  # a node gone, or a network break: ask it
                    continue
                except ray.exceptions.RayError as error:
                    ended[run_id] = Exit(_actor_reason(error), lost="because its node" in str(error))
                self._forget(run_id, kill=True)
        for run_id in list(self.unreachable):
            run = self.store.get_run(run_id)
            if run is None or not run.active:
                self._forget(run_id, kill=True)
            elif not self._answers(self.actors.get(run_id)):
                node = f" on {run.node}" if run.node else ""
                self._forget(run_id, kill=True)
                ended[run_id] = Exit(f"lost its Ray worker{node}: the node died or became unreachable", lost=True)
        return ended

    def _answers(self, actor: Any | None) -> bool:
        if actor is None:
            return False
        try:
            ray.get(actor.ping.remote(), timeout=PING_TIMEOUT)
            return True
        except (ray.exceptions.RayError, TimeoutError):
            return False

    def _forget(self, run_id: int, kill: bool) -> None:
        actor = self.actors.pop(run_id, None)
        self.calls.pop(run_id, None)
        self.unreachable.pop(run_id, None)
        if kill and actor is not None:
            try:
                ray.kill(actor, no_restart=True)
            except ray.exceptions.RayError:
                pass

    def alive(self, run: Run) -> bool:
        """Ray's view: the run's actor answers (its ping runs beside the training thread), or it is still waiting
        for a node with a free CPU."""
        actor = self._actor(run)
        return self._answers(actor) or _actor_state(actor) in WAITING

    def memory_mb(self, run: Run) -> float | None:
        """The worker's resident memory with its children, as its heartbeat last reported it."""
        when, table = self._memory
        if time.monotonic() - when > 1.0:
            try:
                table = ray.get(self.store_actor.memory_mb.remote(self.data_dir), timeout=5)
            except (ray.exceptions.RayError, TimeoutError):
                table = {}
            self._memory = (time.monotonic(), table)
        return table.get(run.id)

    def end(self, run: Run) -> None:
        actor = self._actor(run)
        self._forget(run.id, kill=False)
        if actor is not None:
            try:
                ray.kill(actor, no_restart=True)
            except ray.exceptions.RayError:
                pass
