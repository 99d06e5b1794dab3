"""The World Models page under AppTest: the bundled Doom world, a run, the τ table as one engine sweep (the τ slider
in a real browser: tests/e2e/test_world_models_browser.py)."""

import base64
import json
import time

import numpy as np
import pytest

from engine.runtime.access import OPERATOR
from tests.helpers import chart_titles, open_page, titled
from tests.labs.test_world_models import TINY as TINY_DOOM


def chart(app, title: str) -> dict:
    """The parsed Plotly spec of the chart with this title."""
    for element in app.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if title in spec["layout"].get("title", {}).get("text", ""):
            return spec
    raise AssertionError(f"no chart titled {title!r} in {chart_titles(app)}")


def traces(spec: dict) -> dict[str, dict]:
    return {trace.get("name", ""): trace for trace in spec["data"]}


def values(array) -> list[float]:
    """A Plotly data array as numbers: a list, or numpy's bytes as Plotly ships them ({"bdata", "dtype"})."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def finished_doom_run() -> int:
    from ui.engine import job_manager

    run_id = job_manager().submit("world_models", TINY_DOOM, by=OPERATOR)
    assert job_manager().wait(run_id, timeout=180) == "done", job_manager().store.get_run(run_id).error
    return run_id


def test_a_first_visit_dreams_in_the_bundled_doom_world_with_its_tau_table(fresh_app):
    app = open_page("world_models")
    assert not app.exception and any("No run yet" in i.value for i in app.info)
    titles = chart_titles(app)
    assert titled(titles, "dreams of it at τ = 1 (") and titled(titles, "Dreams ended before the real hit")
    timeline = chart(app, "The real game (left)")
    assert timeline["layout"]["sliders"] and len(timeline["frames"]) > 1  # one animation: real and dreamt frames
    table = traces(chart(app, "The τ table"))
    assert values(table["paper: real"]["y"]) == [193, 196, 868, 1092, 753]
    ours = table["ours: in the real game"]
    assert len(values(ours["x"])) == 5 and len(values(ours["error_y"]["array"])) == 5
    over_seeds = [name for name in table if name.startswith("mean over ") and name.endswith(" seeds: real")]
    assert len(over_seeds) == 1 and len(values(table[over_seeds[0]]["y"])) == 5  # the bundle's seeds, their spread
    assert len(app.dataframe[0].value) == 5
    assert any("nearer the game's picture of the same side" in m.value for m in app.markdown)  # the second probe
    assert any("**What the bundled world measures**" in m.value for m in app.markdown)  # the notes' figures, read
    probe = chart(app, "Does the dream know what moving does?")
    bars = {trace["name"]: trace for trace in probe["data"] if trace["type"] == "bar"}
    assert {"the real game", "dream τ = 1"} <= set(bars) and list(bars["the real game"]["x"]) == [
        "left",
        "still",
        "right",
    ]


@pytest.mark.slow
def test_the_page_keeps_the_bundled_world_labelled_while_a_run_trains(fresh_app):
    from ui.engine import job_manager

    slow = TINY_DOOM | {"rnn_updates": 1_000_000}  # V done in seconds, then M for many minutes
    run_id = job_manager().submit("world_models", slow, by=OPERATOR)
    try:
        store = job_manager().store
        for _ in range(900):  # until V's first reconstructions are in
            if store.get_run(run_id).status == "running" and store.snapshot(run_id, "recon"):
                break
            time.sleep(0.2)
        app = open_page("world_models", run=str(run_id))
        assert not app.exception and not app.error
        titles = chart_titles(app)
        assert titled(titles, "dreams of it at τ = 1 (") and titled(titles, "Does the dream know what moving does?")
        captions = " ".join(c.value for c in app.caption)
        assert "The bundled world" in captions and "bundled world's probe" in captions
        assert titled(titles, "V's losses")  # the run's own V, live, above the bundled dream
    finally:
        job_manager().stop(run_id, by=OPERATOR)


@pytest.mark.slow
def test_a_run_shows_every_stage_then_fills_its_tau_table_by_one_engine_sweep(fresh_app):
    from engine.labs.world_models.facts import TABLE_TAUS
    from ui.engine import job_manager
    from ui.world_models_play import STEPS_PER_PRESS

    run_id = finished_doom_run()
    app = open_page("world_models", run=str(run_id))
    assert not app.exception and not app.error
    titles = chart_titles(app)
    for title in (
        "V's losses",
        "M's losses",
        "CMA-ES fitness",
        "The real game (left)",
        "Dreams ended before the real hit",
        "probability that the dream ends",
    ):
        assert titled(titles, title), (title, titles)
    second_probe = [m.value for m in app.markdown if "nearer the game's picture of the same side" in m.value]
    assert len(second_probe) == 1 and "real starts, left and right each held 25 steps" in second_probe[0]
    assert f"Run #{run_id}'s V and M." in " ".join(c.value for c in app.caption)
    app.select_slider(key="wm.viewer_tau").set_value(0.1).run()
    assert titled(chart_titles(app), "dreams of it at τ = 0.1 (")
    app.button(key="wm.act.left").click().run()
    assert not app.exception
    play = app.session_state["world_models.play"]  # one press: several steps, or fewer if M dreamt a hit
    assert len(play.deaths) == (play.hit or STEPS_PER_PRESS)

    app.button(key="wm.sweep").click().run()  # the τ table: one engine call, one job per τ
    sweep = [r for r in job_manager().store.list_runs() if r.id != run_id]
    assert sorted(r.config["temperature"] for r in sweep) == sorted(TABLE_TAUS)
    assert {r.config["world_run"] for r in sweep} == {run_id}  # one shared world, by run id
    for job in sweep:
        assert job_manager().wait(job.id, timeout=240) == "done", job_manager().store.get_run(job.id).error
    app = open_page("world_models", run=str(run_id))
    assert not app.exception
    ours = traces(chart(app, "The τ table"))["ours: in the real game"]
    assert values(ours["x"]) == list(TABLE_TAUS) and len(values(ours["error_y"]["array"])) == 5
    assert app.dataframe[0].value["real (ours)"].notna().all()
