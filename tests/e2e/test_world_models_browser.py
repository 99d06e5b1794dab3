"""The World Models page in a real browser: the τ slider moves the dream over Doom frames."""

import pytest

from engine.runtime.access import OPERATOR
from tests.helpers import poll
from tests.labs.test_world_models import TINY as TINY_DOOM

pytestmark = pytest.mark.slow


def test_the_tau_slider_moves_the_dream_over_doom_frames(app_server, page):
    from engine.runtime.jobs import JobManager

    url, data = app_server
    manager = JobManager(data)
    run_id = manager.submit("world_models", TINY_DOOM, by=OPERATOR)
    assert manager.wait(run_id, timeout=180) == "done", manager.store.get_run(run_id).error
    manager.shutdown()

    page.goto(f"{url}/world_models?run={run_id}")
    title = """() => {
      for (const chart of document.querySelectorAll('.js-plotly-plot')) {
        const title = (chart.layout && chart.layout.title && chart.layout.title.text) || '';
        if (title.includes('dreams of it at')) return title;
      }
      return '';
    }"""
    last_frame = """() => {
      for (const chart of document.querySelectorAll('.js-plotly-plot')) {
        if (!(chart.layout.title.text || '').includes('dreams of it at')) continue;
        const frames = chart._transitionData._frames;
        return chart.layout.title.text + '|' + frames[frames.length - 1].data[0].source;
      }
      return '';
    }"""
    poll(page, title, lambda t: "τ = 1 (" in t, timeout=90)
    before = poll(page, last_frame, lambda v: "τ = 1 (" in v, timeout=30).split("|")[1]
    slider = page.get_by_role("slider", name="Dream temperature τ")
    slider.focus()
    page.keyboard.press("ArrowLeft")
    after = poll(page, last_frame, lambda v: "τ = 0.75 (" in v, timeout=60).split("|")[1]
    # the dream of the same real start at the new τ: other Doom frames, drawn as PNG images
    assert before.startswith("data:image/png;base64,") and after.startswith("data:image/png;base64,")
    assert after != before
