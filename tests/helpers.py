"""Helpers shared by the page tests: open a page under AppTest, count its charts, poll a real browser."""

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_page(name: str, **query) -> AppTest:
    """The whole app (navigation, sidebar) opened on one page, with a query string as a shared link would carry."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    if name != "home":
        app.switch_page(f"app_pages/{name}.py")
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def plotly_count(app: AppTest) -> int:
    return len(app.get("plotly_chart"))


def chart_titles(app: AppTest) -> list[str]:
    """Every chart's title and subplot titles, read from its parsed Plotly spec (never from the raw JSON text,
    whose escaping depends on which JSON library Plotly found)."""
    titles = []
    for chart in app.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        title = layout.get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
        titles += [note.get("text", "") for note in layout.get("annotations", [])]
    return titles


def titled(titles: list[str], fragment: str) -> bool:
    return any(fragment in title for title in titles)


def poll(tab, script: str, predicate, timeout: float):
    """Evaluate `script` in a browser tab until `predicate` holds for its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = tab.evaluate(script)
        if predicate(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting; last value {value!r}")
