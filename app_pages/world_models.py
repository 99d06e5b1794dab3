"""World Models: V and M learn Doom from pixels, C learns inside their dream, τ keeps the dream honest."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from engine.labs import get_lab
from engine.labs.world_models import BUNDLED_WORLD
from engine.labs.world_models.facts import PAPER_RANDOM, TABLE_TAUS
from engine.labs.world_models.viewer import COUNTED_DREAMS, VIEW_TAUS
from engine.params import ConfigError
from engine.runtime.access import Busy
from engine.runtime.store import Run, Status
from ui import live
from ui.engine import job_manager, visitor
from ui.figures import metric_chart
from ui.results import explain
from ui.run_panel import lab_header, live_controls, live_panel
from ui.world_models import (
    death_chart,
    download_png,
    ends_chart,
    fitness_chart,
    frame_strip,
    pictures_caption,
    pictures_strip,
    probe_chart,
    tau_table_chart,
    viewer_timeline,
)
from ui.world_models_data import (
    bundled_results,
    bundled_viewer_snapshot,
    latest_snapshot,
    random_score,
    real_end,
    stage_events,
    stage_series,
    sweep,
    sweep_results,
    sweep_version,
    table_frame,
    tau_rows,
    viewer_version,
    world_checkpoint,
    world_of,
    world_run,
)
from ui.world_models_play import STEPS_PER_PRESS, dream_play

LAB = get_lab("world_models")

preset, overrides, run = lab_header(
    LAB,
    "**V**, a variational autoencoder, compresses each 64×64 Doom frame to a small code z; **M**, an LSTM with a "
    "mixture-density head, learns to predict the next z and whether a fireball hits you — it becomes a *dream* of "
    "the game. The controller **C** is trained by CMA-ES entirely inside that dream, then plays the real game "
    "(Ha & Schmidhuber 2018, DoomTakeCover). The temperature τ adds noise to the dream so that C cannot win by "
    "exploiting M's mistakes.",
    r"P(z_{t+1}\mid z_t,a_t,h_t)=\sum_k \pi_k\,\mathcal N(\mu_k,\sigma_k^2),\quad "
    r"\pi_k^{(\tau)}\propto\exp\!\big(\log\pi_k/\tau\big),\quad \sigma_k^{(\tau)}=\sigma_k\sqrt{\tau},\quad "
    r"a_t = W_c\,[z_t,h_t]+b_c",
)


def draw(latest: Run) -> None:
    metrics = live.metrics(latest)
    events = stage_events(live.events(latest), metrics, latest.config)
    v_column, m_column, c_column = st.columns(3)
    with v_column:
        st.markdown("**V** — real frames (top) and their reconstructions")
        recon = live.snapshot(latest, "recon")
        if recon:
            strip = frame_strip([recon[1]["frames"], recon[1]["reconstructions"]])
            st.image(strip, width="stretch", caption=f"after V epoch {recon[0]}")
            download_png(strip, f"v_reconstructions_epoch_{recon[0]}", "wm.recon_png")
        if v_losses := stage_series(metrics, "V"):
            st.plotly_chart(
                metric_chart(v_losses, "V's losses", events["V"], height=240, x_title="V epoch"), key="wm.v"
            )
    with m_column:
        if m_losses := stage_series(metrics, "M"):
            st.plotly_chart(
                metric_chart(m_losses, "M's losses", events["M"], y_title="per step", height=300, x_title="M update"),
                key="wm.m",
            )
        else:
            st.caption("M trains after V.")
    with c_column:
        if fitness := stage_series(metrics, "C"):
            st.plotly_chart(fitness_chart(fitness), key="wm.c")
        else:
            st.caption("C trains in the dream after M.")


def dream_viewer(path: Path, step: int, viewer: dict[str, np.ndarray], env: str, source: str) -> None:
    """The real episode and M's dreams of it (same first frame, same actions) at the τ of the slider, on one
    timeline; how often each τ's dreams end early; then play."""
    temperature = st.select_slider(
        "Dream temperature τ",
        VIEW_TAUS,
        value=1.0,
        key="wm.viewer_tau",
        help="The same real start and actions, dreamt at another temperature",
    )
    k = VIEW_TAUS.index(temperature)
    st.plotly_chart(viewer_timeline(path, step, viewer, k), key="wm.timeline")
    deaths, ends = st.columns([3, 2])
    deaths.plotly_chart(death_chart(viewer["death"][k], viewer["lengths"][k], real_end(viewer)), key="wm.death")
    ends.plotly_chart(ends_chart(viewer), key="wm.ends")
    st.caption(
        f"{source} Every dream starts from V's code of the real first frame and is fed the real actions; the "
        f"dreams of one τ differ only by the noise τ lets in. Right: of {COUNTED_DREAMS} dreams per τ, the share M "
        "ends before the real episode's hit — a faithful M ends them about as often as the game did (the band)."
    )
    st.markdown(
        "**Play inside the dream** — your actions, M's imagination: ← ↓ → on your keyboard (hold to repeat) or "
        f"the buttons, {STEPS_PER_PRESS} dream steps a press"
    )
    dream_play(path, step, viewer, env, temperature)


def run_dream_viewer(run: Run) -> None:
    if run.active:
        live.watch(lambda: viewer_version(run), "wm.viewer_version")
    base = world_run(run)
    checkpoint = world_checkpoint(base) if base else None
    snapshot = latest_snapshot(base, "viewer") if base else None
    if checkpoint is None or snapshot is None:
        st.caption("**The bundled world**, until this run's own V is trained and its M has dreamt a first time.")
        bundled_viewer()
        return
    if "actions" not in snapshot[1]:
        st.caption(f"**The bundled world**: run #{base.id}'s dreams were kept by an older Dreamlab, in another form.")
        bundled_viewer()
        return
    dream_viewer(
        checkpoint,
        snapshot[0],
        snapshot[1],
        base.config["env"],
        f"Run #{base.id}, dreams from M after step {snapshot[0]}.",
    )


def after_m(run: Run, name: str, what: str, bundled: Callable[[], None], show: Callable[[dict, Run], None]) -> None:
    """A figure of the run's world once its M has trained (its `name` snapshot); the bundled world's until then."""
    base = world_run(run)
    snapshot = latest_snapshot(base, name) if base else None
    if snapshot is None:
        st.caption(f"**The bundled world's {what}**, until this run's M has finished training.")
        bundled()
        return
    show(snapshot[1], base)


def run_probe(run: Run) -> None:
    def show(view: dict, base: Run) -> None:
        st.plotly_chart(probe_chart(view), key="wm.probe")
        st.caption(PROBE_CAPTION + f" Run #{base.id}'s M.")

    after_m(run, "probe", "probe", bundled_probe, show)


PICTURES_CAPTION = (
    "Each row: the game after holding ← from a real start, M's dream of it (decoded by V), then the same for →. "
    "A dream that shows where you went has the corner wall come into view on the side you moved to, as the game does."
)


def run_pictures(run: Run) -> None:
    after_m(
        run,
        "pictures",
        "pictures",
        bundled_pictures,
        lambda view, base: show_pictures(view, f"Run #{base.id}'s V and M."),
    )


def bundled_pictures() -> None:
    view = world_of(BUNDLED_WORLD)[2].get("pictures")
    if view is None:
        st.caption("The bundled world predates this probe.")
        return
    show_pictures(view, "The bundled world's V and M.")


def show_pictures(view: dict, whose: str) -> None:
    st.markdown(pictures_caption(view))
    strip = pictures_strip(view)
    st.image(strip, caption="game ← · dream ← · game → · dream →", width=520, clamp=True)
    download_png(strip, "dream_where_you_went", "wm.pictures_png")
    st.caption(PICTURES_CAPTION + " " + whose)


def tau_table(run: Run) -> None:
    """One C-only job per τ in this run's world (its V and M, shared, referred to by run id)."""
    jobs = sweep(run)
    missing = [tau for tau in TABLE_TAUS if tau not in {r.config["temperature"] for r in jobs}]
    if run.config.get("world_run"):
        st.caption(f"This run is one row of run #{run.config['world_run']}'s τ table: open that run to see it all.")
        return
    if run.status != Status.DONE:
        st.caption("The τ table starts from a finished run: its V and M become the world every τ shares.")
        return
    if missing and st.button(
        "Fill the τ table: train a controller at each temperature in this world",
        key="wm.sweep",
        help=f"Queues one CMA-ES job per τ ({', '.join(map(str, missing))}) "
        "in this run's dream, each scored over its real episodes",
    ):
        try:
            job_manager().submit_sweep(run.id, "temperature", missing, by=visitor())
        except (Busy, ConfigError) as error:
            st.warning(f"Not started: {error}")
        else:
            st.rerun()
    rows = tau_rows(sweep_results(jobs))
    st.dataframe(table_frame(rows), hide_index=True, key="wm.tau_table")
    st.plotly_chart(tau_table_chart(rows, random_score(run)), key="wm.tau_chart")
    st.caption(
        f"Ours: mean ± standard error over {run.config['real_eval_episodes']} real episodes (the same ones for "
        f"every τ and the random policy) and as many dreams. Paper: DoomTakeCover, Table 2, mean ± std; its "
        f"random policy {PAPER_RANDOM[0]} ± {PAPER_RANDOM[1]}."
    )
    if any(r.active for r in jobs):
        live.watch(lambda: sweep_version(run), "wm.sweep_version")


PROBE_CAPTION = (
    "From real states of held-out episodes, each action is held in the real game and in M's dream from "
    "the same real (z, h): if M knew what moving does, the dream's bars would follow the game's, and it "
    "would order the actions of a state as the game does. Each real outcome is a single draw: the dashed "
    "line is what a dream knowing only each action's average odds would score."
)


def bundled_viewer() -> None:
    dream_viewer(
        BUNDLED_WORLD, 0, bundled_viewer_snapshot(), world_of(BUNDLED_WORLD)[2]["config"]["env"], "The bundled world."
    )


def bundled_probe() -> None:
    st.plotly_chart(probe_chart(world_of(BUNDLED_WORLD)[2]["probe"]), key="wm.probe")
    st.caption(PROBE_CAPTION + " The bundled world's M.")


def bundled_tau_table() -> None:
    _, _, checkpoint = world_of(BUNDLED_WORLD)
    rows = tau_rows(bundled_results(checkpoint["tau_table"]))
    st.dataframe(table_frame(rows), hide_index=True, key="wm.tau_table")
    st.plotly_chart(tau_table_chart(rows, tuple(checkpoint["random"]), checkpoint.get("seeds")), key="wm.tau_chart")
    if "seeds" in checkpoint:
        st.caption(
            f"The bundled world is seed {checkpoint['seeds']['per_seed'][0]['seed']}'s; the faint points are each of "
            f"{len(checkpoint['seeds']['per_seed'])} seeds' own world and controllers, the dotted line their mean ± "
            "standard error (one seed is one draw)."
        )


if run is None:
    st.info(
        "No run yet: below is the Doom world bundled with Dreamlab (a quick-preset run), dreaming live, its "
        "probe and its τ table. Press **Train** to learn your own, stage by stage (collect → V → M → C → "
        "evaluate)."
    )
else:
    live_controls(LAB.name, LAB.space, run)
    live_panel(run, draw)
for title, bundled_figure, run_figure in (
    ("The dream viewer", bundled_viewer, run_dream_viewer),
    ("The probe: does the dream know what moving does?", bundled_probe, run_probe),
    ("The second probe: does the dream show where you went?", bundled_pictures, run_pictures),
    ("The τ table", bundled_tau_table, tau_table),
):
    st.subheader(title)
    if run is None:
        bundled_figure()
    else:
        run_figure(run)

with st.expander("Why add noise when imagining experience?", expanded=True):
    explain(__file__, LAB.name)
