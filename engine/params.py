'''One declaration per hyperparameter: default, bounds, help. UI widgets, CLI flags, validation and the typed config a
trainer reads all come from it.

A lab declares its hyperparameters once, as a frozen dataclass (nanoGPT's GPTConfig, CleanRL's Args), one line per
parameter with its help in the docstring under it, and makes its ParamSpace from that class:

    @dataclass(frozen=True)
    class Config:
        lr: float = param(3e-3, low=1e-5, high=1e-1, live=True, log_scale=True)
        """Adam learning rate"""
        hidden: int = param(32, low=4, high=256)
        """LSTM units"""

        def __post_init__(self) -> None:  # constraints between parameters, if any: raise ConfigError
            ...

    SPACE = ParamSpace.of(Config, presets={"quick": {}, "paper": {"hidden": 48}})

The UI, the CLI, presets, live and branch rules read SPACE as before, and a stored run config stays a plain dict (in
SQLite, in checkpoints). A trainer turns the dict it is handed into the class at once, `config = SPACE.typed(values)`,
and reads `config.hidden`: a misspelt name fails at that line (and in a type checker), an assignment fails (frozen).
A live parameter's current value comes from the context, typed too: `ctx.live(config).lr` (see `with_live`).
'''

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from itertools import pairwise
from typing import Any, TypeVar

C = TypeVar("C")


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


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple = (),
    live: bool = False,
    branch: bool = False,
    log_scale: bool = False,
    in_ui: bool = True,
) -> Any:
    """One field of a lab's Config: its default and what its Param says besides the name (the field's) and the help
    (the docstring under the field)."""
    facts = dict(low=low, high=high, choices=tuple(choices), live=live, branch=branch, log_scale=log_scale, in_ui=in_ui)
    return field(default=default, metadata={"param": facts})


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated attribute in a class's source, its whitespace folded to single spaces."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {
        line.target.id: " ".join(doc.value.value.split())
        for line, doc in pairwise(body)
        if isinstance(line, ast.AnnAssign) and isinstance(line.target, ast.Name)
        if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)
    }


def with_live(config: C, values: dict[str, Any]) -> C:
    """`config` with its live parameters' values taken from `values` (a context's params, live changes applied)."""
    changed = {
        f.name: values[f.name]
        for f in fields(config)
        if f.metadata["param"]["live"] and values[f.name] != getattr(config, f.name)
    }
    return replace(config, **changed) if changed else config


@dataclass(frozen=True)
class ParamSpace:
    """A lab's hyperparameters and its named presets (partial overrides of the defaults); `ParamSpace.of(Config)`
    makes it from a lab's typed config, whose class it keeps in `config_type`."""

    params: tuple[Param, ...]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # constraints between parameters (e.g. an arm count a task family does not have); raises ConfigError
    check: Callable[[dict[str, Any]], None] | None = None
    config_type: type | None = None  # the frozen dataclass it was declared as (its __post_init__ checks constraints)

    def __post_init__(self) -> None:
        for preset in self.presets:
            self.resolve(preset, {})  # a broken preset is a programming error: fail at import

    @classmethod
    def of(cls, config_type: type, presets: dict[str, dict[str, Any]] | None = None) -> ParamSpace:
        """The space a lab's frozen Config dataclass declares: one Param per field (see `param`), in field order.
        A field without help, or whose default is not of its annotated type, fails at import."""
        if not is_dataclass(config_type) or not config_type.__dataclass_params__.frozen:
            raise TypeError(f"{config_type.__name__}: a lab's config is a frozen dataclass")
        docs, params = attribute_docs(config_type), []
        for f in fields(config_type):
            where = f"{config_type.__name__}.{f.name}"
            if "param" not in f.metadata or f.name not in docs:
                raise TypeError(f"{where}: declare it as `{f.name}: type = param(...)` with a docstring under it")
            if type(f.default).__name__ != getattr(f.type, "__name__", f.type):
                raise TypeError(f"{where}: default {f.default!r} is not a {f.type}")
            params.append(Param(f.name, f.default, docs[f.name], **f.metadata["param"]))
        return cls(tuple(params), presets or {}, config_type=config_type)

    def typed(self, values: dict[str, Any]) -> Any:
        """A config dict (resolved, stored, or from a checkpoint; missing names take their defaults) as the lab's
        frozen Config, checked."""
        if self.config_type is None:
            raise TypeError("this space was declared as Params, not as a Config class (ParamSpace.of)")
        return self.config_type(**self.validate(values))

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
        if self.config_type:
            self.config_type(**config)  # its __post_init__ checks the constraints between parameters
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
