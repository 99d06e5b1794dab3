import json
import subprocess
import sys

import pytest

from tests.conftest import TINY_META_RL


def cli(*args, data_dir):
    return subprocess.run(
        [sys.executable, "-m", "engine", "--data", str(data_dir), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_train_then_list_then_export(data_dir):
    sets = [arg for key, value in TINY_META_RL.items() for arg in ("--set", f"{key}={value}")]
    trained = cli("train", "meta_rl", "--preset", "quick", *sets, "--json", data_dir=data_dir)
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["status"] == "done"
    listed = json.loads(cli("runs", "--json", data_dir=data_dir).stdout)
    assert [r["id"] for r in listed] == [result["run"]]
    exported = cli("export", str(result["run"]), data_dir=data_dir).stdout.splitlines()
    assert exported[0] == "step,name,value" and any(",loss," in line for line in exported[1:])


def test_bad_input_gets_a_clear_message_and_starts_nothing(data_dir):
    bad = cli("train", "meta_rl", "--set", "lr=fast", data_dir=data_dir)
    assert bad.returncode == 2
    assert "error: lr" in bad.stderr and "Traceback" not in bad.stderr
    assert cli("export", "99", data_dir=data_dir).stderr.strip() == "error: no run 99"
    assert json.loads(cli("runs", "--json", data_dir=data_dir).stdout) == []


def test_params_lists_every_hyperparameter(data_dir):
    listing = cli("params", "meta_rl", data_dir=data_dir).stdout
    for name in ("lr", "entropy_coef", "task", "arms", "pulls"):
        assert name in listing


@pytest.mark.slow
def test_ctrl_c_stops_a_cli_run_cleanly(data_dir):
    import signal
    import time

    from tests.conftest import LONG_META_RL

    sets = [arg for key, value in LONG_META_RL.items() for arg in ("--set", f"{key}={value}")]
    # Ctrl-C as a terminal delivers it: a test runner started in the background by a shell inherits SIGINT ignored,
    # and so would the CLI, which then never hears it; a handled SIGINT is reset to the default in the child
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "--data", str(data_dir), "train", "meta_rl", *sets, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120  # hang guards only
    while time.monotonic() < deadline and "loss" not in cli("export", "1", data_dir=data_dir).stdout:
        time.sleep(0.5)
    assert "loss" in cli("export", "1", data_dir=data_dir).stdout  # Ctrl-C reaches a run that is training
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "stopped"
    assert "Traceback" not in stderr


def test_load_without_the_tools_folder_says_where_the_client_is(monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setitem(sys.modules, "tools.load", None)  # as in the Docker image, which leaves tools/ out
    assert main(["load", "http://127.0.0.1:1"]) == 2
    assert "the load client is in tools/" in capsys.readouterr().err
