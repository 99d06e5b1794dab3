"""Real browser (Playwright + Debian chromium) against `streamlit run app.py`."""


from tests.conftest import LONG_META_RL
from tests.helpers import poll

# plotly ships arrays base64-encoded; _fullData holds them decoded, as drawn
TRAINING_POINTS = """() => {
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const title = chart.layout && chart.layout.title ? JSON.stringify(chart.layout.title) : '';
    if (title.includes('Training curve') && chart._fullData) return chart._fullData[0].x.length;
  }
  return -1;
}"""


def test_meta_rl_page_trains_live_and_the_chart_gains_points(app_url, page):
    query = "&".join(f"{k}={v}" for k, v in LONG_META_RL.items())
    page.goto(f"{app_url}/meta_rl?{query}")
    page.get_by_role("button", name="Train", exact=True).click()
    first = poll(page, TRAINING_POINTS, lambda n: n > 0, timeout=60)
    later = poll(page, TRAINING_POINTS, lambda n: n > first, timeout=30)  # redrawn live, no reload
    assert later > first
    assert "run=" in page.url  # the view is shareable
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("stopped").first.wait_for(timeout=20_000)


def dream_title(tab) -> str:
    return tab.evaluate("""() => {
      for (const chart of document.querySelectorAll('.js-plotly-plot')) {
        const title = chart.layout && chart.layout.title ? JSON.stringify(chart.layout.title) : '';
        if (title.includes('The dream at')) return title;
      }
      return '';
    }""")


def test_world_models_tau_slider_redreams(app_server, page):
    from engine.runtime.jobs import JobManager
    from tests.conftest import TINY_WORLD_MODELS

    url, data = app_server
    manager = JobManager(data)
    run_id = manager.submit("world_models", TINY_WORLD_MODELS)
    assert manager.wait(run_id, timeout=120) == "done", manager.store.get_run(run_id).error
    manager.shutdown()

    page.goto(f"{url}/world_models?run={run_id}")
    poll(page, "() => 1", lambda _: "τ = 1 " in dream_title(page), timeout=60)
    slider = page.get_by_role("slider", name="Dream temperature τ")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    poll(page, "() => 1", lambda _: "τ = 0.8 " in dream_title(page), timeout=60)  # a new dream, at the new τ
