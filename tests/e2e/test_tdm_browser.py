"""The TDM page in a real browser: the τ slider under the heatmaps."""

import pytest

from tests.helpers import poll

pytestmark = pytest.mark.slow


HEATMAP = """() => {
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const title = (chart.layout && chart.layout.title && chart.layout.title.text) || '';
    if (title.includes('how close can it get') && chart._fullData) {
      let total = 0;  // z is an array of typed rows; walls are NaN
      for (const row of chart._fullData[0].z) for (const v of row) if (v !== null && !Number.isNaN(v)) total += v;
      return total;
    }
  }
  return null;
}"""


def test_moving_the_tau_slider_changes_the_heatmap(app_url, page):
    page.goto(f"{app_url}/tdm")
    before = poll(page, HEATMAP, lambda total: total is not None, timeout=90)
    rail = page.locator(".slider-rail-touch-rect").first  # Plotly's τ slider under the heatmaps
    box = rail.bounding_box()
    rail.click(position={"x": box["width"] * 0.98, "y": box["height"] / 2})  # drag to τ = τ_max
    after = poll(page, HEATMAP, lambda total: total is not None and total < before - 1, timeout=30)
    assert after < before  # a longer horizon: every goal is closer
