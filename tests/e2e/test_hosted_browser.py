"""The hosted profile in real browsers: two visitors in two browser contexts, and a visitor inside a cross-site
iframe, as Hugging Face Spaces shows the app."""

import pytest

from engine.runtime.store import Store
from tests.conftest import LONG_META_RL
from tools.image_smoke import two_visitors_in_an_iframe

pytestmark = pytest.mark.slow


def query(config: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in config.items())


def wait_for_page(tab) -> None:
    tab.get_by_role("button", name="Train", exact=True).wait_for(timeout=90_000)


def test_two_visitors_in_two_browsers(hosted_app, browser):
    url, data = hosted_app
    alice = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    bob = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    elsewhere = []  # every request a page makes to a host other than this server
    for tab in (alice, bob):
        tab.on(
            "request",
            lambda request: None if request.url.startswith((url, "data:", "blob:")) else elsewhere.append(request.url),
        )

    alice.goto(f"{url}/meta_rl?{query(LONG_META_RL)}")
    wait_for_page(alice)
    alice.get_by_role("button", name="Train", exact=True).click()
    alice.wait_for_url("**run=*", timeout=60_000)
    run_id = int(alice.url.split("run=")[1].split("&")[0])
    store = Store(data)
    assert store.get_run(run_id).active

    bob.goto(f"{url}/meta_rl")  # a new visitor lands on the bundled run, never on a stranger's live run
    wait_for_page(bob)
    bob.get_by_text("frozen agent's regret").first.wait_for(timeout=60_000)
    assert "run=" not in bob.url

    bob.goto(f"{url}/meta_rl?run={run_id}")  # a shared link opens the run read-only
    bob.get_by_text("belongs to another visitor").first.wait_for(timeout=60_000)
    assert bob.get_by_role("button", name="Stop", exact=True).is_disabled()
    assert bob.get_by_role("button", name="Pause", exact=True).is_disabled()

    alice.reload()  # the cookie keeps Alice the owner across a reload
    wait_for_page(alice)
    stop = alice.get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=60_000)
    assert not alice.get_by_text("belongs to another visitor").count()
    stop.click()
    alice.get_by_text("stopped").first.wait_for(timeout=60_000)
    assert store.get_run(run_id).status == "stopped"
    assert elsewhere == []  # nothing fetched from third-party hosts (the tab icon included)


def test_a_visitor_inside_a_cross_site_iframe_keeps_their_runs(hosted_app, browser):
    """The app at http://localhost:B inside a page of http://127.0.0.1:A (another site): A reloads and still
    controls A's run; B, in another browser context, sees it read-only."""
    url, data = hosted_app
    from engine.runtime.store import Store

    run_id = two_visitors_in_an_iframe(browser, url.replace("127.0.0.1", "localhost"), LONG_META_RL)
    Store(data).request_stop(run_id)
