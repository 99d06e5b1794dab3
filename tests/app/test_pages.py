"""Every page under Streamlit's AppTest: renders without an exception, shows real figures, rejects bad links."""

import pytest

from engine.runtime.access import OPERATOR
from tests.conftest import TINY_META_RL
from tests.helpers import open_page, plotly_count


def finished_run() -> int:
    from ui.engine import job_manager

    run_id = job_manager().submit("meta_rl", TINY_META_RL, by=OPERATOR)
    assert job_manager().wait(run_id, timeout=60) == "done"
    return run_id


def test_home_presents_the_labs(fresh_app):
    app = open_page("home")
    assert not app.exception
    assert "Learning to reinforcement learn" in [h.value for h in app.subheader]
    assert sum("arxiv.org/abs/" in c.value for c in app.caption) == 4  # each lab links its paper
    assert not any("seed notes" in c.value for c in app.caption)


def test_meta_rl_first_visit_shows_the_bundled_agent(fresh_app):
    app = open_page("meta_rl")
    assert not app.exception
    assert plotly_count(app) == 2  # regret curves and an episode, before anyone trains anything
    assert sum(c.value.startswith(":material/search: **Look for**") for c in app.caption) == 2  # one under each
    assert any("frozen agent's regret" in m.value for m in app.markdown)
    assert any("scored on 1,000 held-out bandits" in m.value for m in app.markdown)  # why it is not the text's figure
    assert any("mean ± standard error over seeds" in m.value for m in app.markdown)  # the notes: its bundled seeds


@pytest.mark.slow
def test_meta_rl_shows_a_finished_run_and_its_figures(fresh_app):
    run_id = finished_run()
    app = open_page("meta_rl", run=str(run_id))
    assert not app.exception
    assert app.selectbox(key="meta_rl.run").value == run_id
    assert plotly_count(app) == 3  # training curve, regret curves, episode explorer
    assert not app.error
    assert any(c.value.endswith(f"?run={run_id}") for c in app.code)  # a link to copy, that reopens this run


def test_meta_rl_bad_links_get_a_message_and_defaults(fresh_app):
    app = open_page("meta_rl", lr="fast", hidden="99999", preset="huge", run="42")
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    assert "lr" in warnings and "hidden" in warnings and "huge" in warnings
    from engine.labs.meta_rl.config import SPACE

    assert app.select_slider(key="meta_rl.param.lr").value == SPACE["lr"].default


def test_the_link_seeds_the_hyperparameters(fresh_app):
    app = open_page("meta_rl", preset="quick", hidden="16", task="dependent")
    assert app.number_input(key="meta_rl.param.hidden").value == 16
    assert app.selectbox(key="meta_rl.param.task").value == "dependent"


@pytest.mark.slow
def test_train_starts_a_run_and_stop_stops_it(fresh_app):
    from ui.engine import job_manager

    app = open_page("meta_rl")
    app.number_input(key="meta_rl.param.updates").set_value(100_000)
    app.button(key="meta_rl.train").click().run()
    assert not app.exception
    [run] = job_manager().store.list_runs()
    assert run.config["updates"] == 100_000 and run.active
    assert app.button(key="meta_rl.train").disabled  # not a second run by a second press
    app.button(key="meta_rl.stop").click().run()
    assert job_manager().wait(run.id, timeout=20) == "stopped"


@pytest.mark.slow
def test_runs_page_lists_and_exports(fresh_app):
    assert any("No runs yet" in i.value for i in open_page("runs").info)
    run_id = finished_run()
    app = open_page("runs", run=str(run_id))
    assert not app.exception
    assert len(app.dataframe) == 1 and plotly_count(app) == 1
    assert list(app.dataframe[0].value["progress"]) == [100]  # whole per cent, as the lab page's progress bar
    assert app.selectbox(key="runs.metric").value == "eval_regret"  # the lab's headline metric, not the first
    [link] = app.get("page_link")
    assert link.proto.page == "meta_rl" and "run=" in link.proto.query_string


def test_a_combination_the_lab_rejects_gets_a_message_not_a_job(fresh_app):
    from ui.engine import job_manager

    app = open_page("meta_rl")
    app.selectbox(key="meta_rl.param.task").set_value("dependent")
    app.number_input(key="meta_rl.param.arms").set_value(3)
    app.button(key="meta_rl.train").click().run()
    assert not app.exception
    assert any("dependent arms" in e.value for e in app.error)
    assert job_manager().store.list_runs() == []
