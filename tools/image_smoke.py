"""The hosted image, built and served for real: `python -m tools.image_smoke` (podman, Debian's chromium).

1. builds the image (with the wheel folder `$PIP_FIND_LINKS`, if set, instead of PyTorch's CPU index) from a base
   image: python:3.11-slim (`--base python:3.11-slim`), or by default a stand-in made with debootstrap, for machines
   where no container registry can be reached;
2. checks that bad deployment input ends the container with one line (a non-numeric PORT);
3. starts it with a data volume, one CPU and 3 GB of memory, waits for `/_stcore/health` (and its HEALTHCHECK), and
   checks that the engine inside sees those quotas (cgroup v1 or v2);
4. drives it in Chromium as two visitors, the app embedded in a page from another site as Hugging Face Spaces shows
   it: A trains a run, reloads and still controls it; B, in another browser context, sees it read-only;
5. restarts the container and, without any visit, waits for the store to show A's run settled: no longer
   "running" on the dead worker (resumed with a live heartbeat, queued again, or ended).

Prints one JSON object of what it measured (seconds, megabytes); exits non-zero at the first step that fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from engine.runtime.settings import SERVER_MB
from engine.runtime.store import Status
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LONG_META_RL  # the test suite's browser and run

ROOT = Path(__file__).resolve().parents[1]
STAND_IN = "localhost/pybase:3.11"  # python:3.11-slim's stand-in: Debian's python3 in a venv at /usr/local
# this machine's podman: runc where crun cannot use the cgroups, no rlimits to set, the host's network
RUN_FLAGS = ["--runtime", "runc", "--ulimit", "host", "--network", "host"]
MEMORY_MB = 3072  # the container's memory limit: the engine's memory per run is what is left beside the server
SETTLE_SECONDS = 30  # how long the store may show A's run "running" on its dead worker after the restart


class SmokeFailure(Exception):
    pass


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], check=False, capture_output=True, text=True)
    if check and done.returncode:
        raise SmokeFailure(f"podman {args[0]} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (a stand-in base image is built from the same)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def make_stand_in_base() -> None:
    """python:3.11-slim's stand-in where no container registry answers: Debian bookworm's python3 (3.11) in a venv
    at /usr/local (python and pip in /usr/local/bin, as in the real image), trusting the host's certificates."""
    root = Path(tempfile.mkdtemp(prefix="pybase-"))
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-pip,python3-venv,ca-certificates",
                "bookworm",
                str(root),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(["chroot", str(root), "python3", "-m", "venv", "/usr/local"], check=True)
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--change", "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "-", STAND_IN],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
        tar.wait()
    except subprocess.CalledProcessError as error:
        raise SmokeFailure(f"the stand-in base image: {error.cmd[0]} failed: {error.stderr}") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build(tag: str, base: str, wheels: str) -> None:
    """`podman build` of the repository's Dockerfile. chroot isolation builds where crun cannot run containers;
    `--format docker` keeps the HEALTHCHECK."""
    flags = ["--isolation=chroot", "--network", "host", "--format", "docker", "-t", tag]
    if base != "python:3.11-slim":
        flags += ["--from", base]
    if wheels:  # the wheel folder instead of PyTorch's CPU index
        flags += [
            "-v",
            f"{wheels}:/wheels:ro",
            "--build-arg",
            "PIP_FIND_LINKS=/wheels",
            "--build-arg",
            "PIP_EXTRA_INDEX_URL=",
        ]
    podman("build", *flags, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, container: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return
        except OSError:
            if podman("inspect", "--format", "{{.State.Running}}", container).stdout.strip() != "true":
                raise SmokeFailure(f"the container stopped: {podman('logs', container).stderr[-2000:]}") from None
            time.sleep(0.2)
    raise SmokeFailure(f"{url}/_stcore/health did not answer in {timeout:.0f} s")


@contextlib.contextmanager
def embedding_site(app_url: str) -> Iterator[str]:
    """A page on another site (http://127.0.0.1:PORT, while the app is at http://localhost:…) that shows the app
    in an iframe, as huggingface.co shows a Space: `/?path=/meta_rl?…` embeds that page of the app."""

    class Embed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("path", ["/"])[0]
            body = (
                f'<!doctype html><title>another site</title><iframe src="{app_url}{path}" '
                'style="width:1400px;height:1000px;border:0"></iframe>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Embed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def shown_run(tab, timeout: float = 60) -> int:
    """The run the app embedded in `tab` shows, from the iframe's own URL (`run=` in its query string)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(PlaywrightError):  # a frame replaced while it was read
            href = tab.frames[-1].evaluate("location.href") if len(tab.frames) > 1 else ""
            query = urllib.parse.parse_qs(urllib.parse.urlparse(href).query)
            if "run" in query:
                return int(query["run"][0])
        time.sleep(0.3)
    raise SmokeFailure("the embedded app never showed a run")


def two_visitors_in_an_iframe(browser, app_url: str, config: dict) -> int:
    """A trains a meta-RL run in the app embedded on another site, reloads and still controls it; B, in another
    browser context, opens the run's link read-only. Returns the run's id; it is still training."""
    with embedding_site(app_url) as site:
        query = urllib.parse.urlencode(config)
        alice = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
        alice.goto(f"{site}/?{urllib.parse.urlencode({'path': f'/meta_rl?{query}'})}")
        app = alice.frame_locator("iframe")  # found again at every use: a reload replaces the frame
        app.get_by_role("button", name="Train", exact=True).click(timeout=90_000)
        run_id = shown_run(alice)

        alice.reload()  # the embedding page again: the iframe opens the lab without `run=`; A lands on A's own run
        app.get_by_role("button", name="Stop", exact=True, disabled=False).wait_for(timeout=90_000)
        if shown_run(alice) != run_id:
            raise SmokeFailure("after a reload in the iframe, A no longer lands on A's run")
        if app.get_by_text("belongs to another visitor").count():
            raise SmokeFailure("after a reload in the iframe, A is a stranger to A's run")

        bob = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
        bob.goto(f"{site}/?{urllib.parse.urlencode({'path': f'/meta_rl?run={run_id}'})}")
        app = bob.frame_locator("iframe")
        app.get_by_text("belongs to another visitor").first.wait_for(timeout=90_000)
        app.get_by_role("button", name="Stop", exact=True, disabled=True).wait_for(timeout=90_000)
        if app.get_by_role("button", name="Stop", exact=True, disabled=False).count():
            raise SmokeFailure("B may stop A's run")
        for tab in (alice, bob):
            tab.context.close()
    return run_id


SETTINGS = """import json
from engine.runtime.settings import Settings
settings = Settings.from_env()
print(json.dumps({"slots": settings.slots, "memory_mb": settings.memory_mb}))"""


RUN_STATE = """import json, sys
from engine.runtime.store import Store
run = Store("/data").get_run(int(sys.argv[1]))
print(json.dumps({"status": run.status, "heartbeat": run.heartbeat}))"""


def run_state(container: str, run_id: int) -> dict:
    """A run as the store in the container shows it, read in the container (as its user, who owns the store)."""
    return json.loads(podman("exec", container, "python", "-c", RUN_STATE, str(run_id)).stdout)


def settled(state: dict, since: float) -> bool:
    """Not "running" on a worker that died with the old server: ended, queued again, or running with a heartbeat
    sent after `since` (a worker of the new server)."""
    return state["status"] != Status.RUNNING or (state["heartbeat"] or 0) > since


def bad_port_gets_one_line(tag: str) -> str:
    done = podman("run", "--rm", *RUN_FLAGS, "-e", "PORT=eighty", tag, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    lines = [line for line in lines if "systemd" not in line]  # podman's own note where there is no systemd
    if done.returncode == 0 or len(lines) != 1 or "PORT" not in lines[0]:
        raise SmokeFailure(f"PORT=eighty: exit status {done.returncode}, output {lines}")
    return lines[0]


def smoke(base: str, wheels: str, tag: str) -> dict:
    figures: dict = {}
    if base == STAND_IN and podman("image", "exists", STAND_IN, check=False).returncode:
        began = time.monotonic()
        make_stand_in_base()
        figures["base_image_s"] = round(time.monotonic() - began, 1)
    began = time.monotonic()
    build(tag, base, wheels)
    figures["build_s"] = round(time.monotonic() - began, 1)
    figures["image_mb"] = round(int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout) / 1e6)
    figures["bad_port"] = bad_port_gets_one_line(tag)

    name, volume, port = f"dreamlab-smoke-{os.getpid()}", f"dreamlab-smoke-{os.getpid()}", free_port()
    app_url = f"http://localhost:{port}"
    podman("volume", "create", volume)
    try:
        began = time.monotonic()
        podman(
            "run",
            "-d",
            "--name",
            name,
            *RUN_FLAGS,
            "--cpus",
            "1",
            "--memory",
            f"{MEMORY_MB}m",
            "-e",
            f"PORT={port}",
            "-v",
            f"{volume}:/data",
            tag,
        )
        wait_healthy(app_url, name)
        figures["healthy_s"] = round(time.monotonic() - began, 1)
        podman("healthcheck", "run", name)  # the image's own HEALTHCHECK, on $PORT
        figures["settings"] = quotas = json.loads(podman("exec", name, "python", "-c", SETTINGS).stdout)
        if quotas != {"slots": 1, "memory_mb": MEMORY_MB - SERVER_MB}:
            raise SmokeFailure(f"the container's quotas (1 CPU, {MEMORY_MB} MB) are not the engine's: {quotas}")

        began = time.monotonic()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            run_id = two_visitors_in_an_iframe(browser, app_url, LONG_META_RL)  # trains until stopped
            browser.close()
        figures["two_visitors_s"] = round(time.monotonic() - began, 1)
        if run_state(name, run_id)["status"] != Status.RUNNING:
            raise SmokeFailure(f"A's run {run_id} is not training before the restart: {run_state(name, run_id)}")

        podman("restart", "--time", "10", name)
        restarted = time.time()
        wait_healthy(app_url, name)  # only the health probe: no page is opened
        state = run_state(name, run_id)
        while not settled(state, restarted) and time.time() - restarted < SETTLE_SECONDS:
            time.sleep(0.5)
            state = run_state(name, run_id)
        figures["after_restart"] = state["status"]
        if not settled(state, restarted):
            raise SmokeFailure(
                f"{SETTLE_SECONDS} s after the restart, without a visit, A's run {run_id} is still "
                "'running' on the old server's dead worker"
            )
        figures["settled_s"] = round(time.time() - restarted, 1)
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)
        podman("volume", "rm", "--force", volume, check=False)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base",
        default=STAND_IN,
        help=f"base image: python:3.11-slim (pulled), or {STAND_IN} (made with debootstrap if absent)",
    )
    parser.add_argument(
        "--wheels",
        default=os.environ.get("PIP_FIND_LINKS", ""),
        help="a folder of wheels to build from (default: $PIP_FIND_LINKS; none: PyTorch's CPU index)",
    )
    parser.add_argument("--tag", default="localhost/dreamlab:smoke")
    args = parser.parse_args(argv)
    began = time.monotonic()
    try:
        figures = smoke(args.base, args.wheels, args.tag)
    except SmokeFailure as failure:
        print(f"image smoke test failed: {failure}", file=sys.stderr)
        return 1
    print(json.dumps({**figures, "total_s": round(time.monotonic() - began, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
