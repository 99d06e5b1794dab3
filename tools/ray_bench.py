"""Measure the Ray launcher against the local one, on a Ray cluster of loopback nodes on this machine.

    python -m tools.ray_bench single [--repeat 2] [--set updates=…]   one job: local vs Ray, alternating
    python -m tools.ray_bench sweep [--jobs 5] [--set updates=…]      a seed sweep: 1 node, then 2 nodes
    python -m tools.ray_bench tau [--preset tutorial] [--set …]       the World Models τ table, the same
    python -m tools.ray_bench kill [--repeat 3]                        a node killed: seconds to failed

Each prints one JSON object per line with the load average at the start and end of every measurement: on a
shared machine, compare only figures measured back to back. Nodes are 1-CPU, the head (the app's node, which
holds the store) has none, so every job's writes cross to the store through its actor.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace

from engine.labs.world_models.facts import TABLE_TAUS
from engine.params import parse_assignments
from engine.runtime.access import OPERATOR
from engine.runtime.settings import Settings
from engine.runtime.store import Status

LONG = {"updates": 100_000, "eval_every": 100_000}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cluster(nodes: int):
    from ray.cluster_utils import Cluster

    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(nodes):
        head.add_node(num_cpus=1)
    return head


def resize(head, nodes: int) -> None:
    """Add or remove (gracefully) 1-CPU worker nodes until the cluster has `nodes` of them."""
    while len(head.worker_nodes) < nodes:
        head.add_node(num_cpus=1)
    while len(head.worker_nodes) > nodes:
        head.remove_node(next(iter(head.worker_nodes)))
    head.wait_for_nodes()


def manager(data_dir: str, slots: int, address: str = ""):
    from engine.runtime.jobs import JobManager

    return JobManager(
        data_dir, settings=replace(Settings.from_env(), slots=slots, ray_address=address), supervise_every=0.1
    )


def timed_runs(jobs, configs: list[dict], lab: str = "meta_rl") -> float:
    started = time.perf_counter()
    ids = [jobs.submit(lab, config, by=OPERATOR) for config in configs]
    statuses = [jobs.wait(run_id) for run_id in ids]
    assert statuses == [Status.DONE] * len(ids), [jobs.store.get_run(i).error for i in ids]
    return time.perf_counter() - started


def single(args, overrides: dict) -> None:
    import ray

    from engine.labs import get_lab

    config = get_lab("meta_rl").space.resolve(args.preset, overrides)
    head = cluster(1)
    try:
        for attempt in range(args.repeat):
            for where in ("local", "ray"):
                with tempfile.TemporaryDirectory() as data:
                    jobs = manager(data, 1, head.address if where == "ray" else "")
                    before = load()
                    seconds = timed_runs(jobs, [config])
                    jobs.shutdown()
                    print(
                        json.dumps(
                            {
                                "bench": "single",
                                "attempt": attempt,
                                "launcher": where,
                                "seconds": round(seconds, 2),
                                "load_before": before,
                                "load_after": load(),
                            }
                        ),
                        flush=True,
                    )
    finally:
        ray.shutdown()
        head.shutdown()


def sweep(args, overrides: dict) -> None:
    import ray

    from engine.labs import get_lab
    from engine.runtime.ray_launcher import node_id_prefix

    base = get_lab("meta_rl").space.resolve(args.preset, overrides)
    head = cluster(1)
    try:
        for nodes in args.phases:
            resize(head, nodes)
            with tempfile.TemporaryDirectory() as data:
                jobs = manager(data, nodes, head.address)
                before = load()
                started = time.perf_counter()
                # one batch of seeds through the scheduler: what submit_sweep queues, without its finished base run
                ids = jobs.submit_batch(
                    "meta_rl", [{**base, "seed": seed} for seed in range(1, args.jobs + 1)], by=OPERATOR
                )
                statuses = [jobs.wait(run_id) for run_id in ids]
                seconds = time.perf_counter() - started
                assert statuses == [Status.DONE] * len(ids)
                spread = sorted({node_id_prefix(jobs.store.get_run(i).node) for i in ids})
                jobs.shutdown()
                print(
                    json.dumps(
                        {
                            "bench": "sweep",
                            "nodes": nodes,
                            "jobs": len(ids),
                            "seconds": round(seconds, 2),
                            "worker_nodes_used": spread,
                            "load_before": before,
                            "load_after": load(),
                        }
                    ),
                    flush=True,
                )
    finally:
        ray.shutdown()
        head.shutdown()


def tau(args, overrides: dict) -> None:
    """The World Models τ table: one world (a finished run), then one controller per τ through submit_sweep —
    on one 1-CPU node, then on two. Each τ job loads the world's checkpoint through the store actor."""
    import ray

    from engine.labs import get_lab
    from engine.runtime.ray_launcher import node_id_prefix

    config = get_lab("world_models").space.resolve(args.preset, overrides)
    head = cluster(1)
    try:
        with tempfile.TemporaryDirectory() as data:
            jobs = manager(data, 1, head.address)
            started = time.perf_counter()
            world = jobs.submit("world_models", config, by=OPERATOR)
            assert jobs.wait(world) == Status.DONE, jobs.store.get_run(world).error
            print(
                json.dumps(
                    {"bench": "tau-world", "seconds": round(time.perf_counter() - started, 2), "load_after": load()}
                ),
                flush=True,
            )
            for nodes in args.phases:
                jobs.shutdown()
                resize(head, nodes)
                jobs = manager(data, nodes, head.address)
                before = load()
                started = time.perf_counter()
                ids = jobs.submit_sweep(world, "temperature", list(TABLE_TAUS), by=OPERATOR)
                statuses = [jobs.wait(run_id) for run_id in ids]
                seconds = time.perf_counter() - started
                assert statuses == [Status.DONE] * len(ids), [jobs.store.get_run(i).error[-300:] for i in ids]
                spread = sorted({node_id_prefix(jobs.store.get_run(i).node) for i in ids})
                print(
                    json.dumps(
                        {
                            "bench": "tau",
                            "nodes": nodes,
                            "jobs": len(ids),
                            "seconds": round(seconds, 2),
                            "worker_nodes_used": spread,
                            "load_before": before,
                            "load_after": load(),
                        }
                    ),
                    flush=True,
                )
            jobs.shutdown()
    finally:
        ray.shutdown()
        head.shutdown()


def kill(args, overrides: dict) -> None:
    import ray

    from engine.labs import get_lab
    from engine.runtime.ray_launcher import node_id_prefix

    config = get_lab("meta_rl").space.resolve(args.preset, {**overrides, **LONG})
    head = cluster(2)
    try:
        with tempfile.TemporaryDirectory() as data:
            jobs = manager(data, 2, head.address)
            for attempt in range(args.repeat):
                run_id = jobs.submit("meta_rl", config, by=OPERATOR)
                while "loss" not in jobs.store.metrics(run_id):
                    time.sleep(0.05)
                prefix = node_id_prefix(jobs.store.get_run(run_id).node)
                node = next(n for n in head.worker_nodes if n.node_id.startswith(prefix))
                before = load()
                started = time.perf_counter()
                head.remove_node(node, allow_graceful=False)
                removed = time.perf_counter() - started
                status = jobs.wait(run_id, timeout=300)
                seconds = time.perf_counter() - started
                print(
                    json.dumps(
                        {
                            "bench": "kill",
                            "attempt": attempt,
                            "status": status,
                            "seconds_to_failed": round(seconds, 2),
                            "of_which_removing_node": round(removed, 2),
                            "error": jobs.store.get_run(run_id).error[:200],
                            "load_before": before,
                            "load_after": load(),
                        }
                    ),
                    flush=True,
                )
                head.add_node(num_cpus=1)
            jobs.shutdown()
    finally:
        ray.shutdown()
        head.shutdown()


def main() -> None:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when ray is imported: every address on 127.0.0.1
    parser = argparse.ArgumentParser(prog="python -m tools.ray_bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("single", "sweep", "tau", "kill"))
    parser.add_argument("--preset", help="default: quick (meta-RL), tutorial (World Models, for tau)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument(
        "--phases",
        default="1,2",
        help="worker nodes in each timed phase of sweep and tau, in order "
        "(e.g. 1,2,2,1 to even out a load that drifts)",
    )
    args = parser.parse_args()
    args.preset = args.preset or ("tutorial" if args.what == "tau" else "quick")
    args.phases = [int(n) for n in args.phases.split(",")]
    {"single": single, "sweep": sweep, "tau": tau, "kill": kill}[args.what](args, parse_assignments(args.set))


if __name__ == "__main__":
    main()
