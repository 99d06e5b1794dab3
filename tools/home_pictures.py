"""The Home page's pictures of the TDM and tournament labs, drawn from their bundled runs as still images: no play
button or slider, and text large enough to read at the card's size. `python -m tools.home_pictures` rewrites
assets/tdm.png and assets/tournament.png (Plotly draws them in headless Chromium)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import plotly.graph_objects as go

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CHROMIUM = "/usr/bin/chromium"
FONT_SIZE = 18  # the card shows a picture at about half its width: 18 px reads as 9


def still(figure: go.Figure, title: str, width: int, height: int) -> go.Figure:
    """A figure as a still picture: its animation controls gone, its last frame shown, its text enlarged."""
    figure = go.Figure(figure)
    figure.frames, figure.layout.updatemenus, figure.layout.sliders = (), (), ()
    figure.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE},
        width=width,
        height=height,
        margin={"l": 70, "r": 40, "t": 80, "b": 60},
    )
    figure.update_annotations(font_size=FONT_SIZE)
    figure.update_xaxes(automargin=True, showticklabels=True)
    figure.update_yaxes(automargin=True, showticklabels=True)
    return figure


def tdm_picture() -> go.Figure:
    from engine.labs.tdm.envs import LAYOUTS
    from ui.tdm import BUNDLED_CHECKPOINT, checkpoint_learners, exact, predicted, reachability_figure

    _, config, _ = checkpoint_learners(BUNDLED_CHECKPOINT)
    start = tuple(LAYOUTS[config["layout"]].starts[0])
    figure = reachability_figure(
        predicted(str(BUNDLED_CHECKPOINT), BUNDLED_CHECKPOINT.stat().st_mtime, start),
        exact(config["layout"], start, config["tau_max"], config["max_step"]),
        config["layout"],
        start,
        4,
        "",
    )
    figure = still(figure, "How close can it get to each goal in 5 steps? Learnt, exact, difference", 1300, 520)
    figure.update_layout(margin_r=200)
    figure.update_layout(coloraxis_colorbar={"title": {"text": "distance", "side": "top"}})
    return figure.update_traces(colorbar={"title": {"side": "top"}, "x": 1.12}, selector={"type": "heatmap"})


def tournament_picture() -> go.Figure:
    from engine.labs.tournament.mechanisms import parse_mechanisms
    from ui.tournament import bundled_preview, win_matrix_chart

    preview = bundled_preview("argmax")
    mechanisms = parse_mechanisms(preview["config"]["mechanisms"])
    figure = win_matrix_chart(preview["test"]["wins"], mechanisms, "")
    return still(figure, "Which expert wins each mechanism's digits", 1000, 560)


def save(figure: go.Figure, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        page_file = Path(folder) / "figure.html"
        figure.write_html(page_file, include_plotlyjs=True, config={"staticPlot": True}, auto_play=False)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": figure.layout.width, "height": figure.layout.height})
        page.goto(page_file.as_uri(), wait_until="domcontentloaded", timeout=600_000)
        page.locator(".main-svg").first.wait_for(timeout=600_000)
        page.wait_for_timeout(2000)  # the axes' labels are drawn after the first paint
        page.locator(".js-plotly-plot").first.screenshot(path=str(path))
        browser.close()


if __name__ == "__main__":
    save(tournament_picture(), ASSETS / "tournament.png")
    save(tdm_picture(), ASSETS / "tdm.png")
    print(f"wrote {ASSETS / 'tdm.png'} and {ASSETS / 'tournament.png'}")
