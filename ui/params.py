"""Widgets generated from a lab's ParamSpace, with the page state mirrored in the URL."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import streamlit as st

from engine.params import ConfigError, Param, ParamSpace


def _key(lab: str, name: str) -> str:
    return f"{lab}.param.{name}"


def log_grid(space: ParamSpace, name: str, points: int = 31) -> list[float]:
    """Slider stops for a log-scale parameter, rounded to 2 significant digits so they read cleanly, beside its
    default and every preset's value as they are: choosing a preset runs exactly its values."""
    param = space[name]
    exact = {param.default} | {values[name] for values in space.presets.values() if name in values}
    return sorted({float(f"{v:.2g}") for v in np.geomspace(param.low, param.high, points)} | {float(v) for v in exact})


def param_widget(
    space: ParamSpace, name: str, key: str, disabled: bool = False, on_change=None, args=(), slider: bool = False
) -> Any:
    param = space[name]
    common = {"help": param.help, "key": key, "disabled": disabled, "on_change": on_change, "args": args}
    if param.choices:
        return st.selectbox(param.name, param.choices, **common)
    if param.kind is bool:
        return st.toggle(param.name, **common)
    if param.log_scale:
        return st.select_slider(param.name, options=log_grid(space, name), format_func=lambda v: f"{v:g}", **common)
    if param.kind is str:
        return st.text_input(param.name, **common)
    if slider and param.kind is float:
        return st.slider(param.name, float(param.low), float(param.high), step=_float_step(param), **common)
    if param.kind is int:
        return st.number_input(param.name, min_value=int(param.low), max_value=int(param.high), step=1, **common)
    return st.number_input(
        param.name,
        min_value=float(param.low),
        max_value=float(param.high),
        format="%g",
        step=_float_step(param),
        **common,
    )


def _float_step(param: Param) -> float:
    return float(f"{(param.high - param.low) / 100:.1g}")


def snap_to_widget(space: ParamSpace, name: str, value: Any) -> Any:
    """A select_slider only accepts its own stops: snap a URL/preset value to the nearest one."""
    if space[name].log_scale:
        return min(log_grid(space, name), key=lambda stop: abs(np.log(stop) - np.log(value)))
    return value


def _load_preset(lab: str, space: ParamSpace) -> None:
    values = space.resolve(st.session_state[f"{lab}.preset"], {})
    for param in space.params:
        st.session_state[_key(lab, param.name)] = snap_to_widget(space, param.name, values[param.name])


def hyperparameter_form(lab: str, space: ParamSpace, disabled: bool = False) -> tuple[str, dict[str, Any]]:
    """Preset picker + one widget per parameter. Returns (preset, overrides that differ from the preset).

    On the first render of a session, the URL (`?preset=…&lr=…`) seeds the widgets; a bad URL value is
    reported and ignored. Afterwards the widgets write the state back to the URL, so a view can be shared.
    """
    presets = list(space.presets)
    if f"{lab}.preset" not in st.session_state:
        _seed_from_url(lab, space, presets)
    preset = st.selectbox(
        "Preset",
        presets,
        key=f"{lab}.preset",
        on_change=_load_preset,
        args=(lab, space),
        help="quick: trains in minutes on a laptop CPU · paper: closer to the paper's scale",
    )
    columns = st.columns(3)
    values = {}
    for index, param in enumerate(p for p in space.params if p.in_ui):
        with columns[index % 3]:
            values[param.name] = param_widget(space, param.name, _key(lab, param.name), disabled=disabled)
    preset_values = space.resolve(preset, {})
    overrides = {name: value for name, value in values.items() if value != preset_values[name]}
    _write_url(space, {"preset": preset, **overrides})
    return preset, overrides


def _seed_from_url(lab: str, space: ParamSpace, presets: list[str]) -> None:
    url = dict(st.query_params)
    preset = url.pop("preset", presets[0])
    if preset not in presets:
        ignored_in_link("preset", preset, f"no such preset; {presets[0]} instead")
        preset = presets[0]
    st.session_state[f"{lab}.preset"] = preset
    _load_preset(lab, space)
    names = {p.name for p in space.params}
    for name, raw in url.items():
        if name not in names:
            continue  # other query params (run, tab, …) belong to the page
        try:
            st.session_state[_key(lab, name)] = snap_to_widget(space, name, space[name].coerce(raw))
        except ConfigError as error:
            ignored_in_link(name, raw, str(error).removeprefix(f"{name}: ").replace(repr(raw), "it"))


def _write_url(space: ParamSpace, values: dict[str, Any]) -> None:
    """The preset and the parameters that differ from it; keys that are not parameters (run, a start point, …)
    belong to the page and ride along."""
    names = {p.name for p in space.params} | {"preset"}
    keep = {k: v for k, v in st.query_params.items() if k not in names}
    wanted = {**keep, **{k: str(v) for k, v in values.items()}}
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def url_number(name: str, kind: type = int, low: float | None = None, high: float | None = None) -> int | float | None:
    """A finite number from the URL (of `kind`, within [low, high] where given), or None when it is missing or
    unusable (the page's link notice says so)."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise ValueError
        return value
    except (ValueError, OverflowError):
        bounds = f" in [{low:g}, {high:g}]" if low is not None and high is not None else ""
        ignored_in_link(name, raw, f"not a number{bounds}")
        return None


def as_text(text: str, limit: int = 60) -> str:
    """Markdown that shows `text` as the characters it is, in a code span (never a link, markup or HTML), on one
    line and at most `limit` characters long."""
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    return f"{fence} {text} {fence}" if text else "an empty value"


def escaped(text: str) -> str:
    """Markdown that shows `text` (an error message, which names no value of the link) as it is."""
    return re.sub(r"([!-/:-@\\[-`{-~])", r"\\\1", text)


def link_notice() -> None:
    """Where a page says what in its link it could not use: one line at the top of the page, written as the page
    reads its link (app.py places it before every page)."""
    st.session_state["link.notice"] = (st.empty(), [])


def ignored_in_link(name: str, raw: str, why: str) -> None:
    """Add a value of the link that the page ignored (and so drops from the address) to the page's link notice."""
    slot, problems = st.session_state.setdefault("link.notice", (st.empty(), []))
    problems.append(f"{as_text(name, 20)} = {as_text(raw)} ({escaped(why)})")
    shown = problems[:4] + ([f"and {len(problems) - 4} more"] if len(problems) > 4 else [])
    slot.warning("Ignored in this link: " + "; ".join(shown), icon=":material/link_off:")
