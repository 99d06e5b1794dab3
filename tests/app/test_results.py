"""Each lab's figures over seeds: read from the bench JSON bundled beside its checkpoints (here: tiny benches of two
seeds), each as the mean ± standard error of the seeds' own values (the pages show them: tests/app/test_pages.py)."""

from pathlib import Path

import pytest

from engine.runtime.seeds import statistics

DATA = Path(__file__).with_name("data")


@pytest.fixture
def tiny_seeds(monkeypatch, fresh_app):
    """Every lab's bundled bench over seeds replaced by a tiny one (`bench … --seeds 2 --json`)."""
    import ui.results

    monkeypatch.setattr(ui.results, "seeds_path", lambda lab: DATA / f"tiny_seeds_{lab}.json")


@pytest.mark.parametrize("lab", ["meta_rl", "tournament", "tdm"])
def test_the_figures_say_how_they_were_made(tiny_seeds, lab):
    from ui.results import measured

    text = measured(lab)
    assert f"`python -m engine bench {lab} --set " in text and "--seeds 2`" in text  # the command, to rerun it
    assert "mean ± standard error over seeds 0, 1" in text


def test_a_figure_is_the_mean_and_standard_error_of_the_seeds_values(tiny_seeds):
    from ui.results import bundled_seeds, measured

    result = bundled_seeds("meta_rl")
    agent = [r["figures"]["tasks"]["dependent"]["regret"]["agent"]["mean"] for r in result["per_seed"]]
    mean, se = statistics(agent)
    assert f"| dependent | **{mean:.3f} ± {se:.3f}** |" in measured("meta_rl")
    assert f"dependent {agent[0]:.3f}, {agent[1]:.3f}" in measured("meta_rl")  # and each seed's own


def test_a_lab_without_its_file_says_so(fresh_app, monkeypatch, tmp_path):
    import ui.results

    monkeypatch.setattr(ui.results, "seeds_path", lambda lab: tmp_path / "missing.json")
    assert "No bench over seeds is bundled" in ui.results.measured("tdm")
