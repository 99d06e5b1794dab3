"""The TDM page under AppTest: the bundled agent, a finished run, bad points in a link."""

import pytest

from engine.runtime.access import OPERATOR
from tests.helpers import chart_titles, open_page, titled
from tests.labs.test_tdm import TINY_TDM


def test_the_first_visit_shows_the_bundled_tdm(fresh_app):
    app = open_page("tdm")
    assert not app.exception and not app.error
    titles = chart_titles(app)
    for title in ("how close can it get", "Success on held-out", "Final distance", "Rollouts toward the goal"):
        assert titled(titles, title), (title, titles)
    assert app.query_params["sx"] == "-0.4"  # the start is in the URL, so a view can be shared


@pytest.mark.slow
def test_a_finished_run_shows_its_curves_heatmaps_and_rollouts(fresh_app):
    from ui.engine import job_manager

    run_id = job_manager().submit("tdm", TINY_TDM, by=OPERATOR)
    assert job_manager().wait(run_id, timeout=60) == "done", job_manager().store.get_run(run_id).error
    app = open_page("tdm", run=str(run_id), sx="0.3", sy="0.2")
    assert not app.exception and not app.error
    assert app.slider(key="tdm.sx").value == 0.3
    assert not titled(chart_titles(app), "after 60 env steps")  # another start than the snapshot's: from the checkpoint
    assert len(app.get("plotly_chart")) == 4
    app.slider(key="tdm.sx").set_value(-0.4).run()
    app.slider(key="tdm.sy").set_value(-0.5).run()
    assert titled(chart_titles(app), "after 60 env steps")  # the default start: the trainer's snapshot


def test_bad_points_in_the_link_get_a_message(fresh_app):
    app = open_page("tdm", sx="far", sy="0.0", gx="0.0")
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    assert "sx" in warnings and "inside a wall" in warnings  # (0.0, 0.0) is not, but the goal (0.0, -0.5) is
