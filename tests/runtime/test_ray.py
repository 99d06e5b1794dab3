"""The Ray launcher on a real multi-node cluster on this machine: a 0-CPU head (the app's node, where the store
is) and two 1-CPU worker nodes, so every run trains on another node than the store's. Everything on 127.0.0.1."""

import os
import socket
from pathlib import Path

import pytest

# read when ray is imported: the only setting that keeps every address on loopback (set before any import of it)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray

from engine.runtime.access import OPERATOR
from engine.runtime.checkpoints import load_checkpoint
from engine.runtime.jobs import JobManager
from engine.runtime.ray_launcher import node_id_prefix, node_label
from tests.conftest import LONG_META_RL, TINY_META_RL, local_settings
from tests.runtime.test_runtime import wait_for


def _listeners_off_loopback() -> set[int]:
    """Inodes of listening TCP sockets bound to anything but loopback."""
    found = set()
    for table, loopback in (
        ("/proc/net/tcp", ("0100007F",)),
        ("/proc/net/tcp6", ("00000000000000000000000001000000", "0000000000000000FFFF00000100007F")),
    ):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state, inode = fields[1].split(":")[0], fields[3], int(fields[9])
            if state == "0A" and address not in loopback:  # 0A: LISTEN
                found.add(inode)
    return found


def _descendants_owning(inodes: set[int]) -> list[str]:
    """The processes started by this test process that own one of these sockets (Ray's, if any)."""
    parents, owners = {}, []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    for pid in parents:
        chain, current = set(), pid
        while current in parents and current not in chain:
            chain.add(current)
            current = parents[current]
        if os.getpid() not in chain or pid == os.getpid():
            continue
        try:
            sockets = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in sockets for inode in inodes):
            owners.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
    return owners


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        head.add_node(num_cpus=1)
    try:
        yield head
    finally:
        ray.shutdown()
        head.shutdown()


@pytest.fixture
def remote(cluster, data_dir):
    # a three-node cluster and its runs share two cores here: a live worker's heartbeat has been seen 6 s late, and
    # its 1 s ping unanswered, so the heartbeat gets 10 s (the node-loss and kill tests wait up to 60-120 s)
    jobs = JobManager(
        data_dir,
        settings=local_settings(slots=2, ray_address=cluster.address),
        heartbeat_timeout=10.0,
        supervise_every=0.1,
    )
    yield jobs
    jobs.shutdown(stop_runs=True)
    for run in jobs.store.list_runs(statuses=("running", "paused")):
        jobs.wait(run.id, timeout=30)


def worker_node_ids(cluster) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


def node_of(jobs: JobManager, run_id: int) -> str:
    """The Ray node id prefix a run's worker recorded ('ray node 127.0.0.1 <id> pid <pid>')."""
    return wait_for(lambda: node_id_prefix(jobs.store.get_run(run_id).node))


def test_a_ray_workers_node_label_names_its_node():
    label = node_label("127.0.0.1", "0123abcd" * 7, 4242)
    assert node_id_prefix(label) == "0123abcd"
    assert node_id_prefix("pid 4242") == node_id_prefix("ray: waiting for a node with a free CPU") == ""


@pytest.mark.slow
def test_a_run_trains_on_a_worker_node_and_its_writes_reach_the_apps_store(cluster, remote):
    run_id = remote.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    assert remote.wait(run_id, timeout=180) == "done", remote.store.get_run(run_id).error
    run = remote.store.get_run(run_id)
    assert any(node.startswith(node_of(remote, run_id)) for node in worker_node_ids(cluster))  # not the head
    assert run.progress == 1.0 and run.summary
    assert len(remote.store.metrics(run_id)["loss"][0]) == TINY_META_RL["updates"]
    assert remote.store.snapshot(run_id, "regret") is not None
    state = load_checkpoint(remote.store.checkpoint_path(run_id))  # written through the store actor, atomically
    assert state["model"] and not list(remote.store.checkpoint_dir.glob("*.tmp"))
    assert all(node["NodeManagerAddress"] == "127.0.0.1" for node in ray.nodes())
    assert _descendants_owning(_listeners_off_loopback()) == []  # no Ray process listens off loopback


@pytest.mark.slow
def test_live_controls_reach_a_remote_worker(remote):
    run_id = remote.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    wait_for(lambda: "loss" in remote.store.metrics(run_id), timeout=180)
    remote.set_params(run_id, {"lr": 0.0042}, by=OPERATOR)
    event = wait_for(lambda: [e for e in remote.store.events(run_id) if e["kind"] == "set"])[0]
    assert event["detail"] == {"lr": 0.0042}
    wait_for(lambda: (abs(remote.store.metrics(run_id, ["lr"])["lr"][1] - 0.0042) < 1e-4).any())  # trained with it
    remote.pause(run_id, by=OPERATOR)
    wait_for(lambda: remote.store.get_run(run_id).status == "paused")
    steps = len(remote.store.metrics(run_id)["loss"][0])
    remote.resume(run_id, by=OPERATOR)
    wait_for(lambda: len(remote.store.metrics(run_id)["loss"][0]) > steps)
    remote.stop(run_id, by=OPERATOR)
    assert remote.wait(run_id, timeout=60) == "stopped"
    assert [e["kind"] for e in remote.store.events(run_id)] == ["set", "pause", "resume", "stop"]
    assert remote.store.checkpoint_path(run_id).is_file()


@pytest.mark.slow
def test_a_sweep_spreads_across_nodes(cluster, remote):
    base = remote.submit("meta_rl", TINY_META_RL, by=OPERATOR)
    assert remote.wait(base, timeout=180) == "done"
    # an earlier test's worker may still be leaving its node (slow on a loaded machine): start with both CPUs free
    wait_for(lambda: ray.available_resources().get("CPU", 0) >= 2, timeout=120)
    sweep = remote.submit_sweep(base, "seed", [1, 2, 3, 4], by=OPERATOR)
    for run_id in sweep:
        assert remote.wait(run_id, timeout=300) == "done", remote.store.get_run(run_id).error
    nodes = {node_of(remote, run_id) for run_id in sweep}
    assert len(nodes) == 2 and all(any(n.startswith(p) for n in worker_node_ids(cluster)) for p in nodes)


@pytest.mark.slow
def test_a_worker_killed_by_ray_fails_its_run_with_the_reason(remote):
    run_id = remote.submit("meta_rl", LONG_META_RL, by=OPERATOR)
    wait_for(lambda: "loss" in remote.store.metrics(run_id), timeout=180)
    ray.kill(remote.launcher._actor(remote.store.get_run(run_id)))
    assert remote.wait(run_id, timeout=60) == "failed"
    assert "ray.kill" in remote.store.get_run(run_id).error
    assert not remote.launcher.alive(remote.store.get_run(run_id))


@pytest.mark.slow
def test_an_unreachable_cluster_is_a_clear_error_not_a_hang(data_dir):
    from engine.runtime.ray_launcher import RayUnavailable

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(RayUnavailable, match="cannot reach the Ray cluster"):
        JobManager(data_dir, settings=local_settings(ray_address=address))


@pytest.mark.slow
def test_a_run_whose_node_disappears_resumes_on_the_other_node(cluster, remote):
    run_id = remote.submit(
        "meta_rl", TINY_META_RL | {"updates": 150, "eval_every": 5, "live_eval_episodes": 10}, by=OPERATOR
    )
    wait_for(lambda: remote.store.get_run(run_id).checkpoint_step, timeout=180)
    prefix = node_of(remote, run_id)
    node = next(n for n in cluster.worker_nodes if n.node_id.startswith(prefix))
    cluster.remove_node(node, allow_graceful=False)  # as if the machine lost power
    try:
        assert remote.wait(run_id, timeout=300) == "done", remote.store.get_run(run_id).error
        message = remote.store.histories()[run_id][0]
        assert message.startswith("lost its Ray worker") and prefix in message, message
        assert "resumed from its checkpoint at step" in message
        assert node_of(remote, run_id) != prefix  # trained on to the end on the other node
        steps = list(remote.store.metrics(run_id)["loss"][0])
        assert steps == list(range(1, 151))  # no gap, no step twice
    finally:
        cluster.add_node(num_cpus=1)  # the module's cluster keeps two worker nodes
