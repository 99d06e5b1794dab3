"""A deployment's environment: cgroup quotas (v1 and v2), the one-line check of PORT and the data directory, the
local profile's address, the health check, secrets (a visitor in a cross-site iframe: tests/e2e)."""

import os
import subprocess
import sys

import pytest

from engine.runtime import settings
from tests.conftest import start_app
from tests.helpers import ROOT


@pytest.fixture
def cgroup(tmp_path, monkeypatch):
    """A fake /sys/fs/cgroup, and this process in the root group of every hierarchy."""
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("4:memory:/\n1:cpu,cpuacct:/\n0::/\n")
    monkeypatch.setattr(settings, "CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(settings, "PROC_CGROUP", proc)
    monkeypatch.setattr(settings.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    return tmp_path / "cgroup"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_caps_the_cores(cgroup):
    write(cgroup / "cpu.max", "250000 100000\n")
    write(cgroup / "memory.max", f"{3 * 2**30}\n")
    assert settings.available_cpus() == 2
    assert settings.available_memory_mb() == 3 * 1024


def test_cgroup_v1_quota_caps_the_cores(cgroup):
    write(cgroup / "cpu" / "cpu.cfs_quota_us", "150000\n")
    write(cgroup / "cpu" / "cpu.cfs_period_us", "100000\n")
    write(cgroup / "memory" / "memory.limit_in_bytes", f"{2 * 2**30}\n")
    assert settings.available_cpus() == 1
    assert settings.available_memory_mb() == 2 * 1024


def test_cgroup_v1_without_limits_leaves_the_machine(cgroup):
    write(cgroup / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(cgroup / "cpu" / "cpu.cfs_period_us", "100000\n")
    write(cgroup / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert settings.available_cpus() == 8
    assert settings.available_memory_mb() < 2**43


def test_a_host_process_reads_its_own_group(cgroup):
    settings.PROC_CGROUP.write_text("4:memory:/slice/app\n1:cpu,cpuacct:/slice/app\n0::/\n")
    write(cgroup / "cpu" / "slice" / "app" / "cpu.cfs_quota_us", "300000\n")
    write(cgroup / "cpu" / "slice" / "app" / "cpu.cfs_period_us", "100000\n")
    write(cgroup / "cpu" / "cpu.cfs_quota_us", "-1\n")
    assert settings.available_cpus() == 3


def test_the_hosted_memory_per_run_fits_the_container(cgroup, monkeypatch):
    write(cgroup / "memory.max", f"{2700 * 2**20}\n")  # Streamlit Community Cloud's 2.7 GB
    monkeypatch.setenv("DREAMLAB_MODE", "demo")
    monkeypatch.setenv("DREAMLAB_MAX_JOBS", "2")
    monkeypatch.delenv("DREAMLAB_RUN_MEMORY_MB", raising=False)
    assert settings.Settings.from_env().memory_mb * 2 + settings.SERVER_MB <= 2700


def check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.runtime.settings"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "knob, value, says",
    [
        ("PORT", "eighty", "PORT"),
        ("PORT", "70000", "PORT"),
        ("DREAMLAB_MAX_JOBS", "two", "DREAMLAB_MAX_JOBS"),
        ("DREAMLAB_DATA", "/proc/dreamlab", "not writable"),
    ],
)
def test_bad_deployment_input_gets_one_line(tmp_path, knob, value, says):
    done = check({"PATH": "/usr/bin:/bin", "DREAMLAB_DATA": str(tmp_path), knob: value})
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr


def test_a_good_deployment_passes(tmp_path):
    done = check({"PATH": "/usr/bin:/bin", "DREAMLAB_DATA": str(tmp_path / "new"), "PORT": "7860"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new").is_dir()


def test_a_data_directory_on_a_network_filesystem_is_refused(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nserver:/export {tmp_path} nfs4 rw 0 0\n")
    monkeypatch.setattr(settings, "PROC_MOUNTS", mounts)
    assert "network filesystem (nfs4)" in settings.data_dir_problem(tmp_path)
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nbucket {tmp_path} fuse.s3fs rw 0 0\n")
    assert "network filesystem (fuse.s3fs)" in settings.data_dir_problem(tmp_path)
    mounts.write_text("/dev/vda / ext4 rw 0 0\n")
    assert settings.data_dir_problem(tmp_path) is None


def test_the_spaces_card_serves_the_images_port():
    """README's YAML block is the Space's card: a Docker Space whose app_port is the port the image serves."""
    from tests.helpers import ROOT

    card = ROOT.joinpath("README.md").read_text().split("---\n")[1]
    fields = dict(line.split(": ", 1) for line in card.splitlines() if ": " in line and not line.startswith("#"))
    assert fields["sdk"] == "docker"
    assert f"PORT={fields['app_port']}" in ROOT.joinpath("Dockerfile").read_text()


def test_the_hosted_queue_holds_three_runs_per_slot_unless_set(monkeypatch):
    monkeypatch.setenv("DREAMLAB_MODE", "demo")
    monkeypatch.setenv("DREAMLAB_MAX_JOBS", "2")
    monkeypatch.delenv("DREAMLAB_QUEUE_LIMIT", raising=False)
    assert settings.Settings.from_env().queue_limit == 6 == settings.queue_limit_for(2)
    assert settings.queue_limit_for(5) == 15  # what a Ray cluster of 5 CPUs queues
    monkeypatch.setenv("DREAMLAB_QUEUE_LIMIT", "4")
    assert settings.Settings.from_env().queue_limit == 4 == settings.queue_limit_for(5)


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port` (from /proc/net/tcp and tcp6, in their hex form)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(local.rsplit(":", 1)[0])
    return found


@pytest.mark.slow
def test_the_local_profile_listens_on_this_machine_only(tmp_path):
    """`streamlit run app.py` with no address given: loopback only, not a café's network (the image asks for all)."""
    server, url = start_app(tmp_path, address=None)
    try:
        assert listening_addresses(int(url.rsplit(":", 1)[1])) == {"0100007F"}  # 127.0.0.1; no 00000000, no ::
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "--server.address=0.0.0.0" in ROOT.joinpath("Dockerfile").read_text()  # the image serves its network


def test_the_health_check_asks_the_job_manager_the_store_and_the_disk(data_dir):
    import time
    from dataclasses import replace

    from engine.runtime.health import engine_problems
    from engine.runtime.jobs import SUPERVISOR_BEAT, JobManager
    from tests.conftest import local_settings

    knobs = local_settings(min_free_mb=1)
    assert engine_problems(data_dir, knobs)[0] == "the job manager has not started"
    jobs = JobManager(data_dir, settings=knobs, supervise_every=60)
    assert engine_problems(data_dir, knobs) == []  # at once: the server answers as soon as its job manager exists
    jobs.shutdown()
    long_ago = time.time() - 120
    os.utime(data_dir / SUPERVISOR_BEAT, (long_ago, long_ago))  # a supervisor stuck for two minutes
    assert "supervisor last went round" in engine_problems(data_dir, knobs)[0]
    assert "data disk is full" in engine_problems(data_dir, replace(knobs, min_free_mb=10**12))[-1]


def test_secrets_stay_out_of_git_and_the_image():
    ignored = subprocess.run(
        ["git", "check-ignore", ".env", ".streamlit/secrets.toml"], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout.split() == [".env", ".streamlit/secrets.toml"]
    excluded = ROOT.joinpath(".dockerignore").read_text().split()
    assert ".env" in excluded and ".streamlit/secrets.toml" in excluded
    dockerfile = ROOT.joinpath("Dockerfile").read_text()
    assert 'ENTRYPOINT ["dumb-init", "--"]' in dockerfile  # an init as PID 1 reaps the orphans of ended workers
    assert "CMD python -m engine.runtime.health" in dockerfile
