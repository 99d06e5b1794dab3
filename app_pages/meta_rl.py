"""Learning to reinforcement learn: an LSTM that learns a bandit algorithm."""

import streamlit as st

from engine.labs import get_lab
from engine.runtime.store import Run, Status
from ui import live
from ui.engine import store
from ui.figures import Prebuilt, metric_chart
from ui.meta_rl import ablation_of, bundled_reading, episode_chart, reading, regret_chart
from ui.meta_rl_agents import PREVIEW_EPISODES, bundled_preview, replay
from ui.results import explain
from ui.run_panel import lab_header, live_controls, live_panel, look_for, start_run

LAB = get_lab("meta_rl")
REGRET_LOOK = (
    "the agent's thick curve bending flat like the dashed Bayes-optimal floor, below Thompson sampling and UCB1."
)
EPISODE_LOOK = "both arms tried in the first pulls, then P(arm) settling on the arm whose true p is higher."

preset, overrides, run = lab_header(
    LAB,
    "An LSTM actor-critic sees only its **last action and last reward**. Trained across thousands of random "
    "bandits and then **frozen**, it still gets better within each new bandit: the learning now happens in its "
    "activations, so the network has learned an exploration algorithm of its own (Wang et al. 2016).",
    r"h_t = \mathrm{LSTM}\big(h_{t-1},\,[a_{t-1}, r_{t-1}, t]\big),\qquad "
    r"\max_\theta\ \mathbb{E}_{p\sim\mathcal{D}}\Big[\sum_{t=1}^{T} r_t\Big],\qquad "
    r"\mathrm{regret}_T = \sum_{t=1}^{T}\big(\max_i p_i - p_{a_t}\big)",
)
if st.button("Ablation: the same agent without the reward input", help="The paper's control: it should fall to chance"):
    start_run(LAB.name, preset, {**overrides, "reward_input": False})


def ablation_for(run: Run) -> tuple[int, dict] | None:
    """The ablation of this run, if one finished (its id and regret), to overlay."""
    other = ablation_of(run, store().list_runs(lab=LAB.name, statuses=(Status.DONE,)))
    snapshot = other and store().snapshot(other.id, "regret")
    return (other.id, snapshot[1]) if snapshot else None


def training_chart(latest: Run) -> Prebuilt | None:
    metrics = live.metrics(latest, ["regret", "eval_regret", "entropy"])
    if not metrics:
        return None
    series = {"training regret per episode": metrics.get("regret")}
    if "eval_regret" in metrics:
        series["held-out regret (frozen)"] = metrics["eval_regret"]
    return Prebuilt(
        metric_chart(
            {k: v for k, v in series.items() if v is not None},
            "Training curve",
            live.events(latest),
            "regret at the last pull",
            smoothing=10,
            x_title="update",
        )
    )


def draw(latest: Run) -> None:
    """The run's figures, each built once per new step for every session watching (ui.live)."""
    curves, explorer = st.columns(2)
    with curves:
        chart = live.shared("meta_rl.training", (latest.id, live.version(latest)), lambda: training_chart(latest))
        if chart is not None:
            st.plotly_chart(chart, width="stretch", key="meta_rl.training")
            look_for(
                st, "regret per episode falling over the updates, the frozen agent's held-out curve following it down."
            )
        else:
            st.info("Waiting for the first update…")
    with explorer:
        snapshot = live.snapshot(latest, "regret")
        if snapshot:
            step, regret_curves = snapshot
            ablation = live.shared("meta_rl.ablation", (latest.id, live.version(latest)), lambda: ablation_for(latest))
            chart = live.shared(
                "meta_rl.regret",
                (latest.id, step, ablation and ablation[0]),
                lambda: Prebuilt(
                    regret_chart(
                        regret_curves, f"Regret on held-out bandits (after update {step})", ablation and ablation[1]
                    )
                ),
            )
            st.plotly_chart(chart, width="stretch", key="meta_rl.regret")
            look_for(st, REGRET_LOOK)
            st.markdown(reading(regret_curves))
        else:
            st.info("The regret curves appear at the first evaluation.")


if run is None:
    st.subheader("What a trained agent does")
    st.caption(
        "No run yet: this is the agent bundled with Dreamlab (a quick-preset run), evaluated now on "
        "held-out bandits beside the baselines. Press **Train** to grow your own."
    )
    curves, episode = bundled_preview()
    left, right = st.columns(2)
    left.plotly_chart(
        live.shared(
            "meta_rl.bundled_regret",
            (),
            lambda: Prebuilt(regret_chart(curves, "Regret on held-out bandits (bundled agent)")),
        ),
        width="stretch",
    )
    look_for(left, REGRET_LOOK)
    left.markdown(bundled_reading(curves, PREVIEW_EPISODES))
    right.plotly_chart(
        live.shared("meta_rl.bundled_episode", (), lambda: Prebuilt(episode_chart(episode))), width="stretch"
    )
    look_for(right, EPISODE_LOOK)
else:
    live_controls(LAB.name, LAB.space, run)
    live_panel(run, draw)
    st.subheader("Episode explorer")
    checkpoint = store().checkpoint_path(run.id)
    if checkpoint.exists():
        bandit = st.slider("Held-out bandit #", 0, 99, 0, help="Replay the latest checkpoint on another bandit")
        st.plotly_chart(
            live.shared(
                "meta_rl.episode",
                (str(checkpoint), checkpoint.stat().st_mtime, bandit),
                lambda: Prebuilt(episode_chart(replay(checkpoint, run.config, bandit))),
            ),
            width="stretch",
        )
        look_for(st, EPISODE_LOOK)
    else:
        st.caption("The explorer opens at the first checkpoint.")

with st.expander("What the figures show", expanded=True):
    explain(__file__, LAB.name)
