import os

import pytest

# a meta_rl run that finishes in seconds, and one that keeps training until told to stop
TINY_META_RL = {"updates": 3, "batch": 8, "hidden": 8, "pulls": 10, "eval_every": 2, "eval_episodes": 20}
LONG_META_RL = {**TINY_META_RL, "updates": 100_000, "eval_every": 100_000}


@pytest.fixture(scope="session", autouse=True)
def no_worker_outlives_the_tests(tmp_path_factory):
    """End the workers the tests started — each run's recorded pid, in every store the tests made — and no other
    process."""
    yield
    import signal

    from engine.runtime.launchers import is_worker
    from engine.runtime.store import Store

    for database in tmp_path_factory.getbasetemp().rglob("dreamlab.sqlite3"):
        store = Store(database.parent)
        for run in store.list_runs():
            if run.pid and is_worker(run.pid, run.id, database.parent):
                os.killpg(run.pid, signal.SIGKILL)  # a worker leads its own process group
        store.close()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMLAB_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture
def fresh_app(data_dir):
    """For AppTest: the app's cached job manager and data start afresh on this test's store, and stop after it."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield data_dir
    from ui.engine import job_manager

    job_manager().shutdown(stop_runs=True)
    st.cache_resource.clear()


def local_settings(**changes):
    """The local profile's settings (whatever this machine's environment says), with some knobs changed."""
    from dataclasses import replace

    from engine.runtime.settings import Settings

    return replace(Settings.from_env(), **changes)


@pytest.fixture
def manager(data_dir):
    from engine.runtime.jobs import JobManager

    jobs = JobManager(data_dir, settings=local_settings(slots=2), heartbeat_timeout=3.0, supervise_every=0.1)
    yield jobs
    jobs.shutdown(stop_runs=True)
    for run in jobs.store.list_runs(statuses=("running", "paused")):
        jobs.wait(run.id, timeout=10)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def start_app(data, address: str | None = "127.0.0.1", **env: str):
    """`streamlit run app.py` on a free localhost port with its own data directory (and environment): (the server
    process, its url) once its health endpoint answers. `address` None: the one the project's config gives."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            *(("--server.address", address) if address else ()),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        env={**os.environ, "DREAMLAB_DATA": str(data), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("streamlit did not start") from None
            time.sleep(0.3)
    return server, url


def serve_app(data, **env: str):
    """`start_app`: yields (url, data directory), and ends the server after."""
    server, url = start_app(data, **env)
    yield url, data
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The local profile."""
    yield from serve_app(tmp_path_factory.mktemp("app-data"))


@pytest.fixture(scope="module")
def hosted_app(tmp_path_factory):
    """The hosted profile with one training slot and an admin token."""
    yield from serve_app(
        tmp_path_factory.mktemp("hosted-data"),
        DREAMLAB_MODE="demo",
        DREAMLAB_MAX_JOBS="1",
        DREAMLAB_ADMIN_TOKEN=ADMIN_TOKEN,
    )


ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def app_url(app_server):
    return app_server[0]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()
