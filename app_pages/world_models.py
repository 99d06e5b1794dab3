"""World Models: V and M learn a game from pixels, C learns inside their dream, τ keeps the dream honest."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from engine.labs import get_lab
from engine.runtime.store import Run
from ui.engine import job_manager, owner_id, store
from ui.figures import frames_animation, metric_chart
from ui.run_panel import lab_header, live_controls, live_panel
from ui.world_models import (
    BUNDLED,
    PAPER_RANDOM_SCORE,
    PAPER_TAU_TABLE,
    SWEEP_TAUS,
    cached_real_game,
    cached_redream,
    done_chart,
    dream_session,
    fitness_chart,
    frame_strip,
    tau_table_chart,
)

LAB = get_lab("world_models")
ACTIONS = {  # what a visitor can press when stepping through a dream
    "take_cover": {"◀ left": 0, "stay": 1, "right ▶": 2},
    "cartpole": {"◀ push left": 0, "push right ▶": 1},
    "carracing": {"◀ steer": np.array([-1.0, 0.3, 0.0]), "gas": np.array([0.0, 1.0, 0.0]),
                  "steer ▶": np.array([1.0, 0.3, 0.0]), "brake": np.array([0.0, 0.0, 0.8])},
}

preset, overrides, run = lab_header(
    LAB,
    ":material/cloud:",
    "**V**, a variational autoencoder, compresses each 64×64 frame to a small code z; **M**, an LSTM with a "
    "mixture-density head, learns to predict the next z — it becomes a *dream* of the game. The controller "
    "**C** is trained by CMA-ES entirely inside that dream, then plays the real game (Ha & Schmidhuber 2018). "
    "The temperature τ adds noise to the dream so that C cannot win by exploiting M's mistakes.",
    r"P(z_{t+1}\mid z_t,a_t,h_t)=\sum_k \pi_k\,\mathcal N(\mu_k,\sigma_k^2),\quad "
    r"\pi_k^{(\tau)}\propto\exp\!\big(\log\pi_k/\tau\big),\quad \sigma_k^{(\tau)}=\sigma_k\sqrt{\tau},\quad "
    r"a_t = W_c\,[z_t,h_t]+b_c",
)


def draw(latest: Run) -> None:
    metrics = store().metrics(latest.id)
    events = store().events(latest.id)
    v_column, m_column, c_column = st.columns(3)
    with v_column:
        st.markdown("**V** — real frames (top) and their reconstructions")
        recon = store().snapshot(latest.id, "recon")
        if recon:
            st.image(frame_strip([recon[1]["frames"], recon[1]["reconstructions"]]), width="stretch",
                     caption=f"after V epoch {recon[0]}")
        v_losses = {k: metrics[k] for k in ("recon_loss", "kl") if k in metrics}
        if v_losses:
            st.plotly_chart(metric_chart(v_losses, "V's losses", events, height=240, x_title="V epoch"), key="wm.v")
    with m_column:
        m_losses = {k: metrics[k] for k in ("mdn_loss", "done_loss", "reward_loss") if k in metrics}
        if m_losses:
            st.plotly_chart(metric_chart(m_losses, "M's losses", events, y_title="per step", height=300,
                                         x_title="M epoch"),
                            key="wm.m")
        else:
            st.caption("M trains after V.")
    with c_column:
        fitness = {k: metrics[k] for k in ("fitness_best", "fitness_mean", "fitness_worst") if k in metrics}
        if fitness:
            st.plotly_chart(fitness_chart(fitness), key="wm.c")
        else:
            st.caption("C trains in the dream after M.")
    if "real_score" in metrics:
        scores = {k: metrics[k] for k in ("dream_score", "real_score") if k in metrics}
        st.plotly_chart(metric_chart(scores, "Each round: the controller's score in the dream and in the real game",
                                     height=260, x_title="round"), key="wm.scores")


def dream_viewer(checkpoint: Path, env: str, real_frames: np.ndarray | None) -> None:
    """Re-dream from a checkpoint at any τ, beside a real episode under the same controller; then play in it."""
    temperature = st.slider("Dream temperature τ", 0.05, 2.0, 1.0, 0.05, key="wm.viewer_tau",
                            help="Re-dreams at once from the latest checkpoint, under its controller")
    seed = st.number_input("Dream #", 0, 999, 0, key="wm.viewer_seed", help="Another first frame and other luck")
    dreamt = cached_redream(str(checkpoint), checkpoint.stat().st_mtime, temperature, int(seed))
    left, right = st.columns(2)
    left.plotly_chart(frames_animation(dreamt["frames"], f"The dream at τ = {temperature:g} "
                                       f"({len(dreamt['done_probability'])} steps)"), key="wm.dream")
    if real_frames is not None:
        right.plotly_chart(frames_animation(real_frames, "The real game, same controller "
                                            f"({len(real_frames) - 1} steps)"), key="wm.real")
    st.plotly_chart(done_chart(dreamt["done_probability"]), key="wm.done")
    step_through(checkpoint, env, temperature)


def run_dream_viewer(run: Run) -> None:
    checkpoint = store().checkpoint_path(run.id)
    if not checkpoint.exists():
        st.caption("The dream viewer opens when the first round has a controller.")
        return
    snapshot = store().snapshot(run.id, "dream")
    dream_viewer(checkpoint, run.config["env"], snapshot[1]["real_frames"] if snapshot else None)


def step_through(checkpoint: Path, env: str, temperature: float) -> None:
    st.markdown("**Play inside the dream** — your actions, M's imagination")
    buttons = st.columns(len(ACTIONS[env]) + 1)
    restart = buttons[-1].button("Restart", key="wm.restart")
    session = dream_session(checkpoint, temperature, restart)
    log = st.session_state["world_models.session_log"]
    for column, (label, action) in zip(buttons, ACTIONS[env].items(), strict=False):
        if column.button(label, key=f"wm.act.{label}", disabled=bool(log and log[-1]["over"])):
            _, reward, done_probability, over = session.step(action)
            log.append({"reward": reward, "P(done)": done_probability, "over": over})
    image, status = st.columns([1, 2])
    image.image(session.frame(), width=256, clamp=True, caption=f"dream step {len(log)}")
    if log:
        status.metric("P(done) predicted by M", f"{log[-1]['P(done)']:.2f}")
        if log[-1]["over"]:
            status.warning("M says the episode ended here. Restart to dream again.")


def tau_table(run: Run) -> None:
    """One C-only job per τ in this run's world (its V and M, shared), each under the job cap."""
    world = str(store().checkpoint_path(run.id))
    if run.status != "done" or run.config.get("world_from", ""):
        st.caption("The τ table starts from a finished whole-pipeline run: its V and M become the shared world.")
        return
    sweep = {r.config["temperature"]: r for r in reversed(store().list_runs(lab=LAB.name))
             if r.config.get("world_from") == world}
    if st.button("Fill the τ table: train a controller at each temperature in this world", key="wm.sweep",
                 help=f"Queues one CMA-ES job per τ ({', '.join(map(str, SWEEP_TAUS))}) in this run's dream"):
        for tau in SWEEP_TAUS:
            if tau not in sweep:
                job_manager().submit(LAB.name, {**run.config, "temperature": tau, "world_from": world},
                                     owner=owner_id())
        st.rerun()
    rows = []
    for tau in SWEEP_TAUS:
        job = sweep.get(tau)
        summary = job.summary if job else {}
        rows.append({"τ": tau, "job": f"#{job.id} {job.status} {job.progress:.0%}" if job else "—",
                     "dream": summary.get("dream_score"), "real": summary.get("real_score"),
                     "real_std": summary.get("real_score_std"), "paper dream": PAPER_TAU_TABLE[tau][0],
                     "paper real": PAPER_TAU_TABLE[tau][1]})
    st.dataframe(pd.DataFrame(rows).rename(columns={"dream": "dream score", "real": "real score",
                                                    "real_std": "real ± std"}), hide_index=True)
    st.caption(f"Paper: DoomTakeCover, Table 2; a random policy scores {PAPER_RANDOM_SCORE} there.")
    if any(r["real"] is not None for r in rows):
        st.plotly_chart(tau_table_chart(rows), key="wm.tau_chart")


@st.fragment(run_every=2)
def live_tau_table(run: Run) -> None:
    tau_table(run)


if run is None:
    st.info("No run yet: below is the world bundled with Dreamlab (a quick-preset run on the take-cover game), "
            "dreaming live. Press **Train** to learn your own, stage by stage (collect → V → M → C → evaluate).")
    st.subheader("The dream viewer")
    dream_viewer(BUNDLED, "take_cover", cached_real_game(str(BUNDLED), BUNDLED.stat().st_mtime))
else:
    live_controls(LAB.name, LAB.space, run)
    live_panel(run, draw)
    st.subheader("The dream viewer")
    run_dream_viewer(run)
    st.subheader("The τ table")
    live_tau_table(run)

with st.expander("Why add noise when imagining experience?", expanded=True):
    st.markdown(Path(__file__).with_suffix(".md").read_text())
