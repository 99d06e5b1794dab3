import pytest

from engine.params import ConfigError, Param, ParamSpace, parse_assignments

SPACE = ParamSpace(
    params=(
        Param("lr", 1e-3, "learning rate", low=1e-5, high=1e-1, live=True, log_scale=True),
        Param("hidden", 48, "LSTM units", low=4, high=512),
        Param("task", "independent", "bandit family", choices=("independent", "dependent")),
        Param("reward_input", True, "feed the reward back"),
    ),
    presets={"quick": {"hidden": 16}},
)


def test_defaults_then_preset_then_overrides():
    config = SPACE.resolve("quick", {"lr": "0.01"})
    assert config == {"lr": 0.01, "hidden": 16, "task": "independent", "reward_input": True}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lr": "abc"}, "not a valid float"),
        ({"lr": "nan"}, "not a valid float"),
        ({"lr": 5.0}, "above the maximum"),
        ({"hidden": 2}, "below the minimum"),
        ({"hidden": "4.5"}, "not a valid int"),
        ({"task": "bogus"}, "not one of"),
        ({"reward_input": "maybe"}, "not a valid bool"),
        ({"nope": 1}, "unknown parameter"),
    ],
)
def test_bad_values_get_a_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        SPACE.resolve(None, overrides)


def test_unknown_preset_is_an_error():
    with pytest.raises(ConfigError, match="unknown preset"):
        SPACE.resolve("huge", {})


def test_only_live_parameters_change_while_training():
    assert SPACE.validate_live({"lr": "0.002"}) == {"lr": 0.002}
    with pytest.raises(ConfigError, match="cannot be changed while a run trains"):
        SPACE.validate_live({"hidden": 8})


def test_a_broken_preset_fails_at_declaration():
    with pytest.raises(ConfigError):
        ParamSpace(params=SPACE.params, presets={"bad": {"hidden": 10_000}})


def test_cli_assignments():
    assert parse_assignments(["lr=0.1", " hidden = 8 "]) == {"lr": "0.1", "hidden": "8"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["lr"])


def test_constraints_between_parameters_are_checked():
    def task_needs_two_arms(config):
        if config["task"] == "dependent" and config["hidden"] > 100:
            raise ConfigError("hidden: too big for dependent")

    space = ParamSpace(params=SPACE.params, check=task_needs_two_arms)
    assert space.resolve(None, {"hidden": 200})["hidden"] == 200
    with pytest.raises(ConfigError, match="too big"):
        space.resolve(None, {"hidden": 200, "task": "dependent"})
