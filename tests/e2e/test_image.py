"""The hosted image for real (tools/image_smoke.py): built, served with a data volume, two visitors in Chromium in
an iframe on another site, a restart that settles A's run without any visit. Needs podman (.ci/run installs it)."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import CHROMIUM
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (.ci/run installs it)")
def test_the_image_builds_serves_two_visitors_and_settles_runs_after_a_restart():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does it)")
    done = subprocess.run(
        [sys.executable, "-m", "tools.image_smoke"], cwd=ROOT, check=False, capture_output=True, text=True, timeout=3600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.splitlines()[-1])  # what it measured, for the record (-rP shows it)
    print(figures)
    assert "PORT" in figures["bad_port"]  # bad deployment input ended the container with one line
