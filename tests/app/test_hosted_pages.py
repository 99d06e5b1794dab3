"""The hosted profile as visitors see it: two visitors in two AppTest sessions (in two browsers:
tests/e2e/test_hosted_browser.py)."""

import pytest

from engine.runtime.access import NotAllowed, Visitor
from engine.runtime.store import Store
from tests.conftest import ADMIN_TOKEN, LONG_META_RL
from tests.helpers import open_page
from ui.run_panel import BUNDLED_RUN_ID


@pytest.fixture
def hosted(fresh_app, monkeypatch):
    monkeypatch.setenv("DREAMLAB_MODE", "demo")
    monkeypatch.setenv("DREAMLAB_ADMIN_TOKEN", ADMIN_TOKEN)
    return fresh_app


@pytest.mark.slow
def test_a_stranger_sees_a_run_read_only_and_a_forged_call_is_refused(hosted):
    from ui.engine import job_manager

    owner = open_page("meta_rl", **{k: str(v) for k, v in LONG_META_RL.items()})
    owner.button(key="meta_rl.train").click().run()
    [run] = job_manager().store.list_runs()
    assert owner.selectbox(key="meta_rl.run").value == run.id
    assert not owner.button(key="meta_rl.stop").disabled

    stranger = open_page("meta_rl")
    assert stranger.selectbox(key="meta_rl.run").value == BUNDLED_RUN_ID  # the bundled run, not a stranger's live one
    stranger = open_page("meta_rl", run=str(run.id))
    assert stranger.button(key="meta_rl.stop").disabled and stranger.button(key="meta_rl.pause").disabled
    assert any("belongs to another visitor" in c.value for c in stranger.caption)
    with pytest.raises(NotAllowed):
        job_manager().stop(run.id, by=Visitor("a-forger"))
    assert job_manager().store.get_run(run.id).active

    assert owner.button(key="meta_rl.train").disabled  # while the run shown trains; from the bundled run:
    owner.selectbox(key="meta_rl.run").set_value(BUNDLED_RUN_ID).run()
    second = owner.button(key="meta_rl.train").click().run()  # one active run per visitor
    assert any("per visitor" in w.value for w in second.warning)
    assert len(job_manager().store.list_runs()) == 1

    admin = open_page("meta_rl", run=str(run.id), admin=ADMIN_TOKEN)
    assert "admin" not in admin.query_params  # the token never stays in a link
    admin.button(key="meta_rl.stop").click().run()
    assert job_manager().wait(run.id, timeout=60) == "stopped"


@pytest.mark.slow
def test_a_failed_run_shows_visitors_one_line_and_its_owner_the_details(hosted):
    from ui.engine import job_manager

    run_id = job_manager().submit("meta_rl", LONG_META_RL, by=Visitor("someone-else"))  # active until failed here
    assert job_manager().store.finish(
        run_id, "failed", error="ValueError: bad luck\n\nTraceback (most recent call last): …"
    )
    job_manager().launcher.end(job_manager().store.get_run(run_id))
    stranger = open_page("meta_rl", run=str(run_id))
    assert any("bad luck" in e.value for e in stranger.error)
    assert not any("Traceback" in c.value for c in stranger.code)
    admin = open_page("meta_rl", run=str(run_id), admin=ADMIN_TOKEN)
    assert any("Traceback" in c.value for c in admin.code)


def test_a_page_that_fails_shows_a_visitor_one_line_and_the_admin_the_traceback(hosted):
    from streamlit import config

    store = Store(hosted)
    run_id = store.create_run("tdm", {}, owner="someone")  # a config the page cannot draw: it raises
    store.finish(run_id, "stopped")
    store.close()
    visitor = open_page("tdm", run=str(run_id))
    assert not visitor.exception and any("This part of the page failed (KeyError)" in e.value for e in visitor.error)
    assert config.get_option("client.showErrorDetails") == "none"  # nor for anything that escapes the page
    admin = open_page("tdm", run=str(run_id), admin=ADMIN_TOKEN)
    assert admin.exception and "app_pages/tdm.py" in "".join(admin.exception[0].stack_trace)  # the traceback
