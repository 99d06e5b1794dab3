"""Playing inside the dream (buttons, Restart; arrow keys: tests/e2e) and the World Models page's fixes: a run
whose world has no dream starts yet, the play panel of another world, a probe without near-hit states, events on
their stage's chart. Runs are written into the store directly (a world after V alone, metrics and events): no
training."""

import json
import warnings

import numpy as np
import torch

from engine.runtime.access import OPERATOR
from tests.app.test_world_models_pages import chart
from tests.helpers import open_page
from tests.labs.test_world_models import TUTORIAL, blank_episode


def stored_run(data_dir, world_after_v: bool = True, metrics=(), events=()) -> int:
    """A stopped tutorial run in the page's store: its checkpoint after V (a world without dream starts) and a viewer
    snapshot of M's first dreams, with these metrics rows (step, name, value) and events (step, kind, detail)."""
    from engine.labs.world_models.config import SPACE
    from engine.labs.world_models.resume import checkpoint_state
    from engine.labs.world_models.stages import new_world
    from engine.labs.world_models.viewer import viewer_snapshot
    from engine.runtime.store import Store

    store = Store(data_dir)  # before the page's job manager: it never sees the run queued
    config = SPACE.resolve("tutorial", TUTORIAL)
    run_id = store.create_run("world_models", config, OPERATOR.id)
    store.finish(run_id, "stopped")
    world = new_world(SPACE.typed(config))
    episode = blank_episode(10)
    store.put_snapshot(run_id, "viewer", 4, viewer_snapshot(world, episode, 0))
    if not world_after_v:
        world.start_mu, world.start_logvar = torch.zeros(3, config["z_size"]), torch.zeros(3, config["z_size"])
    store.save_run_checkpoint(run_id, checkpoint_state(world, None, SPACE.typed(config), 1))
    store.add_metrics([(run_id, step, name, value) for step, name, value in metrics])
    for step, kind, detail in events:
        store.add_event(run_id, step, kind, detail)
    store.close()
    return run_id


def test_buttons_move_the_dream_several_steps_a_press_and_restart_starts_from_another_real_frame(fresh_app):
    from engine.labs.world_models import BUNDLED_WORLD
    from ui.world_models_play import STEPS_PER_PRESS

    app = open_page("world_models")
    play = app.session_state["world_models.play"]
    assert play.key[0] == str(BUNDLED_WORLD) and play.deaths == [] and play.start == 0
    first = play_frame(app)
    app.button(key="wm.act.left").click().run()
    app.button(key="wm.act.right").click().run()
    play = app.session_state["world_models.play"]
    assert not app.exception and len(play.deaths) == 2 * STEPS_PER_PRESS
    assert any(f"dream step {2 * STEPS_PER_PRESS} at τ = 1" in c for c in captions(app))
    assert chart(app, "P(the dream ends here), by M")["data"][0]["y"]  # the live trace
    app.button(key="wm.restart").click().run()
    restarted = app.session_state["world_models.play"]
    assert restarted.deaths == [] and restarted.start == 1  # the next stored real first frame
    assert play_frame(app) != first


def play_frame(app) -> list[str]:
    """The frame of the dream being played (its caption names the dream step)."""
    return next(image for image in app.get("image") if any("dream step" in c for c in image.captions)).value


def captions(app) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def played_in_the_bundled_world_then_opened(run_id: int):
    """The page on the bundled run, a press in its Doom dream, then the run picked in the run selector."""
    from ui.run_panel import BUNDLED_RUN_ID

    app = open_page("world_models", run=str(run_id))
    del app.query_params["run"]
    app.selectbox(key="world_models.run").set_value(BUNDLED_RUN_ID).run()
    app.button(key="wm.act.left").click().run()
    assert app.session_state["world_models.play"].deaths
    app.query_params["run"] = str(run_id)
    return app.run()


def test_a_run_without_dream_starts_says_so_and_its_page_never_plays_another_world(fresh_app):
    """The tutorial's checkpoint after V has no real first frames yet, while M's first dreams are already in the
    viewer: a plain line, no traceback; and the bundled Doom dream played before stays out of this run's panel."""
    run_id = stored_run(fresh_app)
    app = played_in_the_bundled_world_then_opened(run_id)
    assert not app.exception
    assert any("Nothing to play yet" in info.value for info in app.info)
    assert not any("dream step" in caption for caption in captions(app))  # no Doom frame beside the run's viewer
    app.run()
    assert not app.exception  # and not on the next run either


def test_the_play_panel_plays_the_world_of_the_run_on_the_page(fresh_app):
    from ui.engine import job_manager

    run_id = stored_run(fresh_app, world_after_v=False)
    app = played_in_the_bundled_world_then_opened(run_id)
    play = app.session_state["world_models.play"]
    assert not app.exception and play.key[0] == str(job_manager().store.checkpoint_path(run_id))
    assert play.deaths == []  # a fresh dream in this run's world, not the bundled one's


def test_events_are_drawn_on_the_chart_of_the_stage_they_happened_in(fresh_app):
    """V ran 5 epochs, M 100 updates (logged every 20), C 15 generations; a live change in M at update 40 and a stop
    in C at generation 15: the stop is on neither V's nor M's chart, the change on M's alone."""
    metrics = (
        [(epoch, name, 1.0) for epoch in range(1, 6) for name in ("recon_loss", "kl")]
        + [(update, name, 1.0) for update in range(20, 101, 20) for name in ("mdn_loss", "done_loss")]
        + [(generation, "fitness_mean", 1.0) for generation in range(1, 16)]
    )
    events = [(40, "set", {"rnn_lr": 0.01}), (15, "stop", {})]
    run_id = stored_run(fresh_app, metrics=metrics, events=events)
    app = open_page("world_models", run=str(run_id))
    assert not app.exception

    def markers(title: str) -> list[float]:
        return [shape["x0"] for shape in chart(app, title)["layout"].get("shapes", [])]

    assert markers("V's losses") == [] and markers("M's losses") == [40]


def test_a_probe_without_near_hit_states_says_so_plainly_without_a_warning():
    from ui.world_models import probe_chart

    states, taus = 6, [0.5, 1.0]
    snapshot = {
        "real": np.array([[1, 0, 0], [0, 1, 0]] * 3, np.uint8),
        "dreamt": np.full((len(taus), states, 3), 0.5, np.float32),
        "near_hit": np.zeros(states, np.uint8),
        "behaviours": np.array(["left", "still", "right"]),
        "taus": np.array(taus, np.float32),
        "horizon": np.array(35),
        "lead": np.array(20),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        title = json.loads(probe_chart(snapshot).to_json())["layout"]["title"]["text"]
    assert "6 real states, none of them 20 steps before a hit" in title


def test_a_strip_downloads_as_the_png_of_its_pixels():
    import io

    from PIL import Image

    from ui.world_models import frame_strip, png

    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    strip = frame_strip([frames, frames[::-1]])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png(strip)))), strip)
    grey = frames[:1, ..., :1]  # a one-channel game's frame (the tutorial's), as play shows it
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png(grey[0])))), grey[0, ..., 0])
