import json
import math
import statistics
import subprocess
import sys

import pytest

from engine.cli import main
from engine.runtime import seeds
from tests.conftest import TINY_META_RL

TINY_BENCH = [
    arg for key, value in (TINY_META_RL | {"bench_tasks": "dependent"}).items() for arg in ("--set", f"{key}={value}")
]


@pytest.mark.slow
def test_two_seeds_run_side_by_side_with_their_mean_and_standard_error(capsys):
    swept = subprocess.run(
        [sys.executable, "-m", "engine", "bench", "meta_rl", "--preset", "quick", *TINY_BENCH, "--seeds", "2"]
        + ["--jobs", "2", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert swept.returncode == 0, swept.stderr
    result = json.loads(swept.stdout)
    assert result["seeds"] == [0, 1] and [r["seed"] for r in result["per_seed"]] == [0, 1]
    first, second = result["per_seed"]
    assert first["pid"] != second["pid"]
    assert max(first["started_at"], second["started_at"]) < min(first["ended_at"], second["ended_at"])  # at once

    regrets = [r["figures"]["tasks"]["dependent"]["regret"]["agent"]["mean"] for r in result["per_seed"]]
    agent = (
        result["mean"]["tasks"]["dependent"]["regret"]["agent"],
        result["se"]["tasks"]["dependent"]["regret"]["agent"],
    )
    assert agent[0]["mean"] == pytest.approx(statistics.mean(regrets))
    assert agent[1]["mean"] == pytest.approx(statistics.stdev(regrets) / math.sqrt(2))
    assert regrets[0] != regrets[1]

    # each seed's figures are that seed's own bench (one processor, one thread: seeded runs repeat)
    assert main(["bench", "meta_rl", "--preset", "quick", *TINY_BENCH, "--set", "seed=1", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["tasks"]["dependent"]["regret"] == second["figures"]["tasks"]["dependent"]["regret"]
    assert second["config"]["seed"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "0"], "at least one seed"),
        (["--seeds", "-1"], "at least one seed"),
        (["--seeds", "many"], "a number of seeds"),
        (["--seeds", "1,1"], "a seed twice"),
        (["--seeds", "0,2147483648"], "seed: 2147483648 is above the maximum"),
        (["--seeds", "0,-2"], "seed: -2 is below the minimum"),
        (["--seeds", "2", "--set", "seed=3"], "give the seeds once"),
        (["--seeds", "2", "--set", "lr=fast"], "lr: 'fast' is not a valid float"),
        (["--seeds", "2", "--jobs", "0"], "--jobs 0: at least 1"),
        (["--jobs", "2"], "--jobs: only with --seeds"),
    ],
)
def test_bad_seeds_get_one_line_and_start_nothing(args, message, monkeypatch, capsys):
    monkeypatch.setattr(seeds.subprocess, "Popen", None)  # a child started would fail the test
    assert main(["bench", "meta_rl", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_failing_seed_is_one_line_and_the_others_still_count(monkeypatch, capsys):
    def fake_bench(lab, preset, sets, seed):  # a child's figures, or a child that raises
        if seed == 2:
            return [sys.executable, "-c", "raise RuntimeError('the bench broke')"]
        figures = {"lab": lab, "config": {"seed": seed}, "score": seed * 10, "rows": [{"x": seed, "name": "a"}]}
        return [sys.executable, "-c", f"print({json.dumps(json.dumps(figures))})"]

    monkeypatch.setattr(seeds, "bench_command", fake_bench)
    assert main(["bench", "meta_rl", "--seeds", "0,1,2", "--jobs", "3"]) == 1
    out = capsys.readouterr().out
    assert "seed 2 failed: RuntimeError: the bench broke" in out and "Traceback" not in out
    assert any(line.split()[:4] == ["score", "5", "±", "5"] for line in out.splitlines())

    result = seeds.run_seeds("meta_rl", None, [], [0, 1, 2], jobs=3)
    assert [r.get("error") for r in result["per_seed"]] == [None, None, "RuntimeError: the bench broke"]
    assert result["per_seed"][1]["figures"] == {"score": 10, "rows": [{"x": 1, "name": "a"}]}
    assert result["mean"] == {"score": 5, "rows": [{"x": 0.5}]} and result["se"] == {"score": 5, "rows": [{"x": 0.5}]}


def test_statistics_walk_dicts_by_key_and_lists_by_position():
    samples = [
        {"a": 1.0, "b": [1, 2, None], "c": "text", "ok": True, "d": {"e": 2}},
        {"a": 3.0, "b": [3, 6, None], "c": "more", "ok": False},
    ]
    mean, se = seeds.statistics(samples)
    assert mean == {"a": 2.0, "b": [2, 4, None], "d": {"e": 2}}
    assert se == {"a": 1.0, "b": [1, 2, None], "d": {"e": None}}  # one sample: no standard error
