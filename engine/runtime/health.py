"""`python -m engine.runtime.health`: the image's HEALTHCHECK, deeper than Streamlit's own `/_stcore/health`.

Well means: the server answers, its job manager's supervisor went round lately (it touches a file in the data
directory as it goes), the store answers a query, and the data disk has the room new runs need. Exit status 0, or 1
with one line per problem.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
import urllib.request
from pathlib import Path

from engine.runtime.jobs import SUPERVISOR_BEAT
from engine.runtime.settings import Settings
from engine.runtime.store import default_data_dir

SUPERVISOR_LATE = 60.0  # seconds without a round of the supervisor before it counts as stuck


def engine_problems(data_dir: Path, settings: Settings) -> list[str]:
    """What is wrong with the job manager, the store and the disk behind a server (nothing: [])."""
    problems = []
    try:
        age = time.time() - (data_dir / SUPERVISOR_BEAT).stat().st_mtime
        if age > SUPERVISOR_LATE:
            problems.append(f"the job manager's supervisor last went round {age:.0f} s ago")
    except OSError:
        problems.append("the job manager has not started")
    try:
        with sqlite3.connect(f"file:{data_dir / 'dreamlab.sqlite3'}?mode=ro", uri=True, timeout=2) as db:
            db.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()
    except sqlite3.Error as error:
        problems.append(f"the store does not answer: {error}")
    free = shutil.disk_usage(data_dir).free / 2**20
    if free < settings.min_free_mb:
        problems.append(f"the data disk is full: {free:,.0f} MB free, new runs need {settings.min_free_mb:,.0f}")
    return problems


def server_problems(port: str) -> list[str]:
    try:
        urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=4)
    except OSError as error:
        return [f"the server does not answer: {error}"]
    return []


if __name__ == "__main__":
    found = server_problems(os.environ.get("PORT", "8501")) + engine_problems(default_data_dir(), Settings.from_env())
    for problem in found:
        print(f"dreamlab: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
