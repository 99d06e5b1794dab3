"""One declaration per hyperparameter: default, bounds, help. UI widgets, CLI flags and validation come from it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration value that a user gave is not acceptable. The message says why, for a human."""


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    live: bool = False  # may be changed while the run trains
    branch: bool = False  # may differ in a run branched from another's checkpoint (a live one always may)
    log_scale: bool = False  # a slider over orders of magnitude (learning rates)
    in_ui: bool = True  # False: a benchmark/CLI setting the lab page does not show

    @property
    def kind(self) -> type:
        return type(self.default)

    def coerce(self, value: Any) -> Any:
        """Turn a user value (possibly a string from the CLI or URL) into a checked value, or raise ConfigError."""
        kind = self.kind
        try:
            if kind is bool:
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                        raise ValueError
                    value = lowered in {"true", "1", "yes"}
                else:
                    value = bool(value)
            elif kind is int:
                as_float = float(value)
                if as_float != int(as_float):
                    raise ValueError
                value = int(as_float)
            elif kind is float:
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            else:
                value = str(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{self.name}: {value!r} is not a valid {kind.__name__}") from None
        if self.choices and value not in self.choices:
            raise ConfigError(f"{self.name}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.low is not None and value < self.low:
            raise ConfigError(f"{self.name}: {value} is below the minimum {self.low}")
        if self.high is not None and value > self.high:
            raise ConfigError(f"{self.name}: {value} is above the maximum {self.high}")
        return value


@dataclass(frozen=True)
class ParamSpace:
    """A lab's hyperparameters and its named presets (partial overrides of the defaults)."""

    params: tuple[Param, ...]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # constraints between parameters (e.g. an arm count a task family does not have); raises ConfigError
    check: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        for preset in self.presets:
            self.resolve(preset, {})  # a broken preset is a programming error: fail at import

    def __getitem__(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise ConfigError(f"unknown parameter {name!r}; known: {', '.join(p.name for p in self.params)}")

    @property
    def live_names(self) -> list[str]:
        return [p.name for p in self.params if p.live]

    @property
    def branch_names(self) -> list[str]:
        return [p.name for p in self.params if p.live or p.branch]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check a partial or full config; returns the full config with defaults filled in."""
        config = self.defaults()
        for name, value in values.items():
            config[name] = self[name].coerce(value)
        if self.check:
            self.check(config)
        return config

    def resolve(self, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults, then the preset, then the user's overrides; all checked."""
        if preset is not None and preset not in self.presets:
            raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(self.presets)}")
        merged = dict(self.presets.get(preset, {})) if preset else {}
        merged.update(overrides)
        return self.validate(merged)

    def validate_live(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Check a live change: only parameters declared live may change while training."""
        checked = {}
        for name, value in changes.items():
            param = self[name]
            if not param.live:
                raise ConfigError(f"{name} cannot be changed while a run trains")
            checked[name] = param.coerce(value)
        return checked

    def validate_branch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Check the changes of a branch: only what the lab can take up mid-training may differ from the parent."""
        checked = {}
        for name, value in changes.items():
            if name not in self.branch_names:
                self[name]  # an unknown name says so first
                raise ConfigError(
                    f"{name} cannot change mid-training; a branch may change {', '.join(self.branch_names)}"
                )
            checked[name] = self[name].coerce(value)
        return checked


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """CLI `--set key=value` pairs into a dict of strings (coercion happens in ParamSpace)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out
