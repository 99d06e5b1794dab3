"""Playing in the bundled world's dream in a real browser: an arrow key moves the dream.

A module of its own, so that its server is fresh: a visitor lands on their own latest run, and a run another test
made (a tiny world whose M ends its dreams at once) would take the bundled world's place."""

import pytest

from tests.helpers import poll
from ui.world_models_play import STEPS_PER_PRESS

pytestmark = pytest.mark.slow


def test_an_arrow_key_moves_the_dream_in_a_browser(app_server, page):
    url, _ = app_server
    page.goto(f"{url}/world_models")
    step = """() => [...document.querySelectorAll('[data-testid="stImageCaption"]')]
        .map(e => e.innerText).find(t => t.startsWith('dream step')) || ''"""
    poll(page, step, lambda text: text.startswith("dream step 0 "), timeout=120)
    after_right = press_until_the_dream_moves(page, step, "ArrowRight", 0)
    press_until_the_dream_moves(page, step, "ArrowLeft", after_right)


def press_until_the_dream_moves(page, step: str, key: str, before: int) -> int:
    """Press `key` until the dream's step passes `before` (the key listener mounts a moment after the dream shows: a
    press before that is a press nobody heard), and return the new step: a whole number of presses further on."""
    for _ in range(30):
        page.keyboard.press(key)
        try:
            text = poll(page, step, lambda text: not text.startswith(f"dream step {before} "), timeout=4)
        except AssertionError:
            continue
        moved = int(text.split()[2])
        assert moved > before and (moved - before) % STEPS_PER_PRESS == 0, text
        return moved
    raise AssertionError(f"{key} never moved the dream from step {before}")
