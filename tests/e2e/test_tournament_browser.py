"""The tournament page in a real browser: a run started by the Train button fills the win matrix."""

import pytest

from tests.helpers import poll
from tests.labs.test_tournament import TINY

pytestmark = pytest.mark.slow


WIN_CELLS = """() => {
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const title = (chart.layout && chart.layout.title && chart.layout.title.text) || '';
    if (title.includes('Who wins: rounds') && chart._fullData) {
      return chart._fullData[0].z.reduce((total, row) => total + Array.from(row).reduce((a, b) => a + b, 0), 0);
    }
  }
  return -1;
}"""


def test_browser_starts_a_run_and_sees_the_win_matrix_fill(app_url, page):
    query = "&".join(f"{k}={v}" for k, v in (TINY | {"rounds": 100_000, "eval_every": 100_000}).items())
    page.goto(f"{app_url}/tournament?{query}")
    page.get_by_role("button", name="Train", exact=True).click()
    filled = poll(page, WIN_CELLS, lambda total: total > 0, timeout=90)  # row shares: one per mechanism
    assert filled == pytest.approx(3)
    assert "run=" in page.url
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("stopped").first.wait_for(timeout=20_000)
