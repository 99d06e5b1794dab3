from dataclasses import FrozenInstanceError, asdict, dataclass, replace

import pytest

from engine.context import LocalContext
from engine.params import ConfigError, Param, ParamSpace, param, parse_assignments

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


@dataclass(frozen=True)
class Config:
    lr: float = param(1e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
    """learning rate"""
    hidden: int = param(48, low=4, high=512)
    """LSTM
    units"""
    task: str = param("independent", choices=("independent", "dependent"))
    """bandit family"""
    reward_input: bool = param(True)
    """feed the reward back"""

    def __post_init__(self) -> None:
        if self.task == "dependent" and self.hidden > 100:
            raise ConfigError("hidden: too big for dependent")


TYPED = ParamSpace.of(Config, presets={"quick": {"hidden": 16}})


def test_a_config_class_declares_the_same_space_as_its_params():
    assert TYPED.params == SPACE.params  # name from the field, help from the docstring under it (folded)
    assert TYPED.resolve("quick", {"lr": "0.01"}) == SPACE.resolve("quick", {"lr": "0.01"})


def test_a_typed_config_is_checked_frozen_and_a_misspelt_name_fails_at_once():
    config = TYPED.typed({"hidden": "8"})
    assert config == Config(hidden=8) and config.hidden == 8
    with pytest.raises(AttributeError):
        config.hiden  # noqa: B018
    with pytest.raises(FrozenInstanceError):
        config.hidden = 9
    with pytest.raises(ConfigError, match="unknown parameter"):
        TYPED.typed({"hiden": 8})
    with pytest.raises(ConfigError, match="too big"):  # __post_init__: constraints between parameters
        TYPED.resolve(None, {"hidden": 200, "task": "dependent"})


def test_a_config_class_that_misdeclares_a_parameter_fails_at_import():
    @dataclass(frozen=True)
    class NoHelp:
        lr: float = param(1e-3)

    @dataclass(frozen=True)
    class IntForFloat:
        lr: float = param(1)
        """learning rate"""

    @dataclass
    class Mutable:
        lr: float = param(1e-3)
        """learning rate"""

    for config_type in (NoHelp, IntForFloat, Mutable):
        with pytest.raises(TypeError):
            ParamSpace.of(config_type)


def test_live_values_come_typed_from_the_context():
    config = TYPED.typed({})
    ctx = LocalContext(asdict(config))
    assert ctx.live(config) is config
    ctx.params["lr"] = 0.02  # what a worker does with a live change
    ctx.params["hidden"] = 8  # not live: never read from the context
    assert ctx.live(config) == replace(config, lr=0.02)
