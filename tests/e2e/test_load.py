"""The load tool in its short form: a few simulated visitors on a real server, speaking Streamlit's protocol."""

import time

import pytest

from tests.conftest import serve_app
from tools.load import Visitor, listening_pid, percentile, run_load


@pytest.fixture(scope="module")
def hosted_server(tmp_path_factory):
    """The hosted profile with one training slot, so two Train presses get one run and one queue position."""
    yield from serve_app(tmp_path_factory.mktemp("hosted-data"), DREAMLAB_MODE="demo", DREAMLAB_MAX_JOBS="1")


def test_percentile_interpolates():
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([float(v) for v in range(101)], 99) == pytest.approx(99.0)


@pytest.mark.slow
def test_a_few_visitors_for_twenty_seconds(hosted_server):
    url, data = hosted_server
    port = int(url.rsplit(":", 1)[1])
    result = run_load(url, visitors=4, trainers=2, seconds=20, pages=["meta_rl", "tdm"])
    assert result["server_pid"] == listening_pid(port)
    assert result["server_cpu_percent"] is not None and result["server_cpu_percent"] > 0
    assert result["visitor_errors"] == []
    assert result["exceptions"] == 0, result["exception_messages"]
    assert result["visitors_without_figure"] == 0, [
        (v["page"], v["first_figure_s"], v["first_render_s"], v["full_runs"], v["outcome"])
        for v in result["per_visitor"]
    ]
    assert result["runs_lost"] == 0, result["per_visitor"]
    assert sum(result["train_outcomes"].values()) == 2
    assert set(result["train_outcomes"]) <= {"ran", "queued", "busy"}, result["per_visitor"]
    assert result["health_probes"] > 0
    # the runs the trainers started are in the store, owned by the visitors who pressed Train
    from engine.runtime.store import Store

    started = {v["run"] for v in result["per_visitor"] if v["outcome"] in ("ran", "queued")}
    assert started <= {run.id for run in Store(data).list_runs()}


@pytest.mark.slow
def test_a_page_that_does_not_exist_is_reported(hosted_server):
    import asyncio

    visitor = Visitor(hosted_server[0], "no_such_page", time.monotonic() + 8)
    report = asyncio.run(visitor.run())
    assert report.connected
    assert "page not found" in report.error
