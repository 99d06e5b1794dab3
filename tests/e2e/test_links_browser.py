"""Every link parameter of every page meets each bad value in a real browser: no traceback, no rendered link."""

import os
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from tests.conftest import TINY_META_RL
from tests.helpers import poll

pytestmark = pytest.mark.slow


SETTLED = "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"


# each value that a link could carry in any parameter: none may give a traceback or a rendered link
BAD_VALUES = [
    "nan",
    "inf",
    "-inf",
    "9" * 400,
    "",
    "garbage",
    "[md](http://example.com/md)",
    "<a href='http://example.com/h'>h</a>",
]


def link_keys(page: str) -> list[str]:
    """Every URL parameter a page reads: its lab's parameters, preset and run (the Runs page: run and compare; TDM:
    the start and goal), and the admin token that every page reads."""
    from engine.labs import LABS

    if page == "runs":
        return ["run", "compare", "admin"]
    points = ["sx", "sy", "gx", "gy"] if page == "tdm" else []
    return ["preset", "run", "admin", *points, *(p.name for p in LABS[page].space.params)]


def bad_links(page: str, rounds: int) -> list[str]:
    """Query strings in which every parameter the page reads meets each of the first `rounds` bad values (rotated,
    so that each link carries every bad value somewhere)."""
    keys = link_keys(page)
    return [
        urlencode({key: BAD_VALUES[(index + shift) % len(BAD_VALUES)] for index, key in enumerate(keys)})
        for shift in range(rounds)
    ]


@pytest.mark.parametrize(("profile", "rounds"), [("app_server", len(BAD_VALUES)), ("hosted_app", 2)])
def test_no_value_of_any_link_parameter_breaks_a_page(profile, rounds, request, browser):
    """Every lab page and Runs with every parameter it reads set to each bad value (the local profile; the hosted
    one, whose pages read the same links, two rounds of them): no traceback, no rendered link."""
    from engine.labs import LABS

    url, data = request.getfixturevalue(profile)
    config = [f"--set={key}={value}" for key, value in TINY_META_RL.items()]
    subprocess.run(  # a finished run, so that the Runs page reads its link
        [sys.executable, "-m", "engine", "train", "meta_rl", *config],
        env={**os.environ, "DREAMLAB_DATA": str(data)},
        check=True,
        capture_output=True,
    )
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    for page in [*LABS, "runs"]:
        for query in bad_links(page, rounds):
            tab.goto(f"{url}/{page}?{query}")
            tab.locator("h1").first.wait_for(timeout=90_000)
            poll(tab, SETTLED, bool, timeout=90)
            assert tab.locator("[data-testid=stException]").count() == 0, (page, query)
            assert tab.locator("a[href*='example.com']").count() == 0, (page, query)
