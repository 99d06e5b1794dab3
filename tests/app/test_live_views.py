"""Cheap live views: figures prepared once and shared, the bundled meta-RL preview shipped precomputed."""

import json

import numpy as np
import plotly.io as pio
import pytest

from tests.conftest import TINY_META_RL
from tests.labs.test_tdm import TINY_TDM
from ui.figures import Prebuilt, metric_chart


def test_a_prebuilt_figure_sends_the_same_spec_as_the_figure():
    from ui.tdm import reachability_figure

    distance = np.random.default_rng(0).random((3, 41, 41))
    distance[:, :5, :5] = np.nan  # goals inside a wall
    figures = [
        reachability_figure(distance, distance + 0.1, "wall", (-0.4, -0.5), 1, "τ"),
        metric_chart(
            {"loss": (np.arange(50), np.linspace(1, 0, 50))},
            "Losses",
            [{"step": 10, "kind": "set", "detail": {"lr": 0.01}}],
        ),
    ]
    for figure in figures:
        prebuilt = Prebuilt(figure)
        assert json.loads(pio.to_json(prebuilt.to_dict(), validate=False)) == json.loads(
            pio.to_json(figure, validate=False)
        )
        json.dumps(prebuilt.to_dict(), allow_nan=False)  # plain data: no NaN, no numpy left


def test_shared_builds_once_per_key(fresh_app):
    from ui import live

    built = []

    def build(value):
        built.append(value)
        return value

    assert live.shared("test.kind", (1, 2.0), lambda: build("a")) == "a"
    assert live.shared("test.kind", (1, 2.0), lambda: build("b")) == "a"
    assert live.shared("test.kind", (1, 3.0), lambda: build("c")) == "c"
    assert built == ["a", "c"]


def test_a_live_run_version_moves_in_steps_and_a_finished_one_never():
    from types import SimpleNamespace

    from ui.live import version

    def run(active: bool, updated: float):
        return SimpleNamespace(active=active, updated=updated)

    assert version(run(True, 100.4), 3.0) == version(run(True, 101.9), 3.0) == 99.0
    assert version(run(True, 102.1), 3.0) == 102.0
    assert version(run(False, 100.4), 3.0) == 100.4


def test_the_shipped_meta_rl_preview_is_the_bundled_agent_s():
    from ui.meta_rl_agents import read_preview

    preview = read_preview()
    assert preview is not None, "regenerate it: python -m ui.meta_rl_agents"
    curves, episode = preview
    for method in ("agent", "bayes", "thompson", "ucb1", "greedy", "random"):
        assert curves[f"{method}_mean"].shape == curves["pulls"].shape
    assert curves["agent_mean"][-1] < curves["random_mean"][-1]
    assert set(episode) >= {"probs", "actions", "rewards", "arm_probs", "posterior_mean"}


def test_a_stale_preview_is_not_used(tmp_path):
    from ui.meta_rl_agents import PREVIEW, read_preview

    stale = tmp_path / "stale.npz"
    from engine.runtime.store import pack_arrays, unpack_arrays

    arrays = unpack_arrays(PREVIEW.read_bytes())
    arrays["checkpoint_sha256"] = np.array("0" * 64)
    stale.write_bytes(pack_arrays(arrays))
    assert read_preview(stale) is None
    assert read_preview(tmp_path / "missing.npz") is None


TINY = {  # a run of each lab in seconds: the same tiny configs as the labs' own tests (TDM without its baseline)
    "meta_rl": TINY_META_RL,
    "tdm": {name: value for name, value in TINY_TDM.items() if name != "baseline"},
}


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(TINY))
def test_two_sessions_on_a_finished_run_get_the_same_shared_figures(fresh_app, page):
    from engine.runtime.access import OPERATOR
    from tests.helpers import open_page
    from ui.engine import job_manager

    run_id = job_manager().submit(page, TINY[page], by=OPERATOR)
    assert job_manager().wait(run_id, timeout=120) == "done"
    specs = []
    for _ in range(2):
        app = open_page(page, run=str(run_id))
        assert not app.exception
        assert app.get("plotly_chart")
        specs.append([json.loads(chart.proto.spec) for chart in app.get("plotly_chart")])
    assert specs[0] == specs[1]
