"""The tournament page under AppTest: the bundled tournament, a finished run, bad links."""

import pytest

from engine.runtime.access import OPERATOR
from tests.helpers import chart_titles, open_page, plotly_count, titled
from tests.labs.test_tournament import TINY


@pytest.mark.usefixtures("fresh_app")
def test_page_first_visit_shows_the_bundled_tournament():
    app = open_page("tournament")
    assert not app.exception and not app.error
    assert plotly_count(app) == 6  # win matrix, history, cross-application, samples, transfer, transfer samples
    assert titled(chart_titles(app), "argmax, the paper's rule")
    assert any("owned" in m.value for m in app.markdown)
    app.segmented_control(key="tournament.bundled_rule").set_value("balanced").run()  # the cap, beside it
    assert not app.exception and not app.error
    assert titled(chart_titles(app), "balanced, a fair share per round")


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_app")
def test_page_shows_a_finished_run_and_rejects_bad_links():
    from ui.engine import job_manager

    run_id = job_manager().submit("tournament", TINY, by=OPERATOR)
    assert job_manager().wait(run_id, timeout=60) == "done", job_manager().store.get_run(run_id).error
    app = open_page("tournament", run=str(run_id))
    assert not app.exception and not app.error
    titles = chart_titles(app)
    for title in (
        "Who wins: rounds 16",
        "round by round",
        "Mechanisms owned",
        "Every expert on every mechanism",
        "Transfer",
    ):
        assert titled(titles, title), (title, titles)
    bad = open_page("tournament", mechanisms="N,spin", experts="99")
    assert not bad.exception
    warnings = " ".join(w.value for w in bad.warning)
    assert "experts" in warnings
    bad.button(key="tournament.train").click().run()
    assert any("mechanisms" in e.value for e in bad.error)  # a message, and no job
    assert len(job_manager().store.list_runs()) == 1
