"""Real browser (Playwright + Debian chromium) against `streamlit run app.py`."""

import pytest

from tests.conftest import LONG_META_RL
from tests.helpers import poll

pytestmark = pytest.mark.slow

# plotly ships arrays base64-encoded; _fullData holds them decoded, as drawn
TRAINING_POINTS = """() => {
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const title = (chart.layout && chart.layout.title && chart.layout.title.text) || '';
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


# how far each piece of the equations reaches past the window's right edge (positive: cut off or scrolled away)
EQUATIONS_OVERFLOW = """() => [...document.querySelectorAll('.katex .base')]
  .map(piece => piece.getBoundingClientRect().right - window.innerWidth)"""


def test_every_lab_header_fits_a_400_px_screen_and_links_its_paper(app_url, browser):
    from engine.labs import LABS

    tab = browser.new_context(viewport={"width": 400, "height": 900}).new_page()
    for lab in LABS.values():
        tab.goto(f"{app_url}/{lab.url}")
        tab.locator(".katex").first.wait_for(timeout=90_000)
        overflow = tab.evaluate(EQUATIONS_OVERFLOW)
        assert overflow and max(overflow) <= 0, (lab.name, overflow)  # nothing runs off the right edge
        assert tab.locator("a[href^='https://arxiv.org/abs/']").count() >= 1, lab.name
