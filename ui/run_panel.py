"""The rhythm every lab page shares: pick a run, Train/Pause/Stop (Resume), Branch, progress and history, live
controls, live figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine.labs import Lab
from engine.params import ConfigError, ParamSpace
from engine.runtime.access import Busy
from engine.runtime.store import HISTORY, TRAINING, Run, Status, params_now
from ui.engine import errors_shown, job_manager, store, visitor
from ui.params import hyperparameter_form, ignored_in_link, param_widget, snap_to_widget, url_number

BUNDLED_RUN_ID = 0  # the run picker's entry for the run shipped with Dreamlab (run ids start at 1)
STATUS_ICONS = {
    Status.QUEUED: "○",
    Status.RUNNING: "▶",
    Status.PAUSED: "❚❚",
    Status.DONE: "✓",
    Status.STOPPED: "■",
    Status.FAILED: "✗",
}


def run_label(run: Run) -> str:
    created = time.strftime("%b %d %H:%M", time.localtime(run.created))
    return f"{STATUS_ICONS[run.status]} #{run.id} · {run.status} · {created}"


def key_figures(run: Run) -> str:
    """The run's first four figures; whether it was stopped is its status, not a figure."""
    figures = [(k, v) for k, v in run.summary.items() if k != "stopped"][:4]
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures)


def select_run(lab: str) -> Run | None:
    """This lab's runs, newest first; a link's `run` wins so a shared link opens the same run (then the picker
    does). Without one, a visitor lands on their own latest run, else on the bundled run (None) — never on a
    stranger's live run."""
    runs = store().list_runs(lab=lab)
    by_id = {r.id: r for r in runs}
    linked = url_number("run")
    if linked is not None and linked not in by_id:
        ignored_in_link("run", st.query_params["run"], "this lab has no such run")
        linked = None
    if linked == st.session_state.get(f"{lab}.run_in_url"):
        linked = None  # the address says what this page wrote there, not a new link: the picker decides
    wanted = st.session_state.pop(f"{lab}.new_run", None) or linked
    if not runs:
        if "run" in st.query_params:
            del st.query_params["run"]
        return None
    me = visitor()
    options = [BUNDLED_RUN_ID, *by_id]
    if wanted is not None or f"{lab}.run" not in st.session_state:
        own = [r.id for r in runs if r.owner == me.id or (me.admin and not job_manager().settings.hosted)]
        st.session_state[f"{lab}.run"] = wanted or (own[0] if own else BUNDLED_RUN_ID)
    chosen = st.selectbox(
        "Run",
        options,
        key=f"{lab}.run",
        format_func=lambda i: "the bundled run" if i == BUNDLED_RUN_ID else run_label(by_id[i]),
    )
    st.session_state[f"{lab}.run_in_url"] = None if chosen == BUNDLED_RUN_ID else chosen
    if chosen == BUNDLED_RUN_ID:
        if "run" in st.query_params:
            del st.query_params["run"]
        return None
    if st.query_params.get("run") != str(chosen):
        st.query_params["run"] = str(chosen)
    return by_id[chosen]


def start_run(lab: str, preset: str, overrides: dict[str, Any]) -> None:
    """Queue a run and open it; a bad combination of values, or a limit of the demo, gets a message and starts
    nothing."""
    try:
        run_id = job_manager().submit(lab, overrides, preset=preset, by=visitor())
    except Busy as busy:
        st.warning(f"Not started: {busy}")
    except ConfigError as error:
        st.error(f"Not started: {error}")
    else:
        st.session_state[f"{lab}.new_run"] = run_id
        st.rerun()


def control(action: Callable[..., Any], *args: Any) -> None:
    """Call a control of the engine; a refusal (not yours, already finished) is a message, not a traceback."""
    try:
        action(*args, by=visitor())
    except ConfigError as error:
        st.toast(f"Not done: {error}")


def train_buttons(lab: str, preset: str, overrides: dict[str, Any], run: Run | None) -> None:
    manager = job_manager()
    train, pause, stop = st.columns(3)
    mine = run is not None and visitor().may_control(run)
    active = run is not None and run.active and mine
    if train.button(
        "Train",
        type="primary",
        disabled=active,  # one press, one run: not a second one by accident while this one trains
        help=f"Run #{run.id} is training: stop it first, or pick another run" if active else None,
        width="stretch",
        key=f"{lab}.train",
    ):
        start_run(lab, preset, overrides)
    # Resume: a paused run, or a stopped or failed one that left a checkpoint to continue from
    resumable = mine and (
        run.status == Status.PAUSED
        or (run.status in (Status.STOPPED, Status.FAILED) and run.checkpoint_step is not None)
    )
    if resumable:
        if pause.button(
            "Resume",
            width="stretch",
            key=f"{lab}.pause",
            help=None if run.status == Status.PAUSED else f"continue from step {run.checkpoint_step}",
        ):
            control(manager.resume, run.id)
    elif pause.button("Pause", disabled=not active or run.status == Status.QUEUED, width="stretch", key=f"{lab}.pause"):
        control(manager.pause, run.id)
    if stop.button("Stop", disabled=not active, width="stretch", key=f"{lab}.stop"):
        control(manager.stop, run.id)
    if run is not None and not mine:
        st.caption(
            f":material/visibility: Read-only: run #{run.id} belongs to another visitor. You see its "
            "figures; its controls are its owner's."
        )


def progress_bar(run: Run) -> None:
    eta = f" · about {run.eta_seconds:.0f} s left" if run.eta_seconds is not None else ""
    stage = run.stage if run.status in TRAINING else run.status
    if run.status == Status.PAUSED and run.resume_wanted:
        stage = "resuming when a slot frees"
    if run.status == Status.QUEUED and (place := job_manager().queue_position(run.id)):
        wait = f"about {place[1] / 60:.0f} min" if place[1] >= 90 else f"about {place[1]:.0f} s"
        stage = f"queued: number {place[0]} in line, starts in {wait}"
    st.progress(
        min(max(run.progress, 0.0), 1.0), text=f"#{run.id} {STATUS_ICONS[run.status]} {stage} · {run.progress:.0%}{eta}"
    )
    if run.note and not run.active:
        st.caption(f"Run #{run.id}: {run.note}")
    from ui.live import events

    for event in events(run):
        if event["kind"] in HISTORY:
            st.caption(f":material/history: {event['detail']['message']}")
    if run.status == Status.FAILED:
        reason = (run.error.splitlines() or [""])[0] or run.note or "unknown reason"
        st.error(f"Run #{run.id} failed: {reason}")
        if visitor().may_control(run):  # the traceback and the worker's own output: for its owner and the admin
            with st.expander("Details and worker log"):
                st.code(run.error or "no traceback")
                st.code(store().log_tail(run.id) or "the worker wrote nothing", language=None)


def current_params(run: Run) -> dict[str, Any]:
    """The run's config with every applied live change replayed in order."""
    return params_now(run.config, store().events(run.id))


def _send_live_change(run_id: int, name: str, key: str) -> None:
    try:
        job_manager().set_params(run_id, {name: st.session_state[key]}, by=visitor())
        st.toast(f"{name} → {st.session_state[key]:g} sent to run #{run_id}")
    except ConfigError as error:
        st.toast(f"Not applied: {error}")


def live_controls(lab: str, space: ParamSpace, run: Run) -> None:
    """Sliders for the parameters the lab declares live; a change reaches the worker within a second."""
    if not run.active or not visitor().may_control(run):
        return
    params = current_params(run)
    st.markdown("**Live controls** — act on the running job")
    columns = st.columns(max(len(space.live_names), 1))
    for column, name in zip(columns, space.live_names, strict=False):
        key = f"{lab}.live.{run.id}.{name}"
        if key not in st.session_state:
            st.session_state[key] = snap_to_widget(space, name, params[name])
        with column:
            param_widget(space, name, key, on_change=_send_live_change, args=(run.id, name, key), slider=True)


def branch_form(lab: Lab, run: Run) -> None:
    """A new run of this visitor's from the run's checkpoint, with what the lab can take up mid-training changed."""
    if run.checkpoint_step is None:
        return
    with st.expander(f"Branch from run #{run.id}'s checkpoint (step {run.checkpoint_step})"):
        st.caption(
            "A new run that starts where this one's checkpoint is, with other values: its charts begin "
            "with this run's, up to that step."
        )
        params = current_params(run)
        names = [name for name in lab.space.branch_names if lab.space[name].in_ui]
        changes = {}
        for column, name in zip(st.columns(3) * len(names), names, strict=False):
            key, now = f"{lab.name}.branch.{run.id}.{name}", snap_to_widget(lab.space, name, params[name])
            if key not in st.session_state:
                st.session_state[key] = now
            with column:
                value = param_widget(lab.space, name, key)
            if value != now:
                changes[name] = value
        if st.button("Branch", key=f"{lab.name}.branch.{run.id}", type="primary"):
            try:
                child = job_manager().branch(run.id, changes, by=visitor())
            except ConfigError as error:
                st.error(f"Not started: {error}")
            else:
                st.session_state[f"{lab.name}.new_run"] = child
                st.rerun()


def lab_header(lab: Lab, idea: str, equation: str) -> tuple[str, dict[str, Any], Run | None]:
    """The top of every lab page: the idea, its equation, the hyperparameters, the run, Train/Pause/Stop, Branch."""
    st.title(f"{lab.icon} {lab.title}")
    st.caption(f":material/description: The paper: {lab.paper}")
    st.markdown(idea)
    st.markdown(wrapping_equation(equation), text_alignment="center")
    with st.expander("Hyperparameters", expanded=False):
        preset, overrides = hyperparameter_form(lab.name, lab.space)
    run = select_run(lab.name)
    train_buttons(lab.name, preset, overrides, run)
    if run is not None:
        link_to(run)
        branch_form(lab, run)
    return preset, overrides, run


def look_for(where, text: str) -> None:
    """Under a figure, one line of what to look for in it."""
    where.caption(f":material/search: **Look for** {text}")


def wrapping_equation(latex: str) -> str:
    """An equation as markdown math that wraps on a narrow screen (KaTeX breaks inline math after a relation or an
    operator, and here after the wide spaces between its parts), drawn in display style; display math would run
    off the right edge of a phone."""
    return "$\\displaystyle " + latex.replace(r"\qquad", r"\qquad\allowbreak") + "$"


def link_to(run: Run) -> None:
    """A link that opens this run (read-only for anyone but its owner), with a copy button."""
    page = (st.context.url or "").split("?")[0]
    with st.popover(":material/link: Copy a link to this run"):
        st.code(f"{page}?run={run.id}", language=None, wrap_lines=True)
        st.caption("Anyone with the link sees this run and its figures; only its owner controls it.")


def live_panel(run: Run, draw: Callable[[Run], None], every: float = 1.0, figures_every: float | None = None) -> None:
    """Progress every `every` seconds and figures every `figures_every` (default ui.live.FIGURES_EVERY) while the
    run is active; a finished run is drawn once. Two fragments, because a fragment's redraw re-sends every element
    in it: the one-line progress bar moves every second, the figures — the costly part — at a slower pace, and
    `draw` takes them from ui.live's shared caches (built once per new step for every session)."""
    from ui.live import FIGURES_EVERY, run_now

    figures_every = figures_every or FIGURES_EVERY

    @st.fragment(run_every=every if run.active else None)
    def progress() -> None:
        latest = run_now(run.id)  # one read a second for every session watching
        if latest is None:
            st.info(f"Run #{run.id} was deleted.")
            return
        progress_bar(latest)
        if run.active and not latest.active:
            st.rerun()  # the buttons, live controls and figures belong to the whole page: refresh them once

    @st.fragment(run_every=figures_every if run.active else None)
    def figures() -> None:
        latest = run_now(run.id)
        if latest is not None:
            with errors_shown():
                draw(latest)

    progress()
    figures()
