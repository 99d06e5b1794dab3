"""Expert tournament: independent causal mechanisms, and which expert wins each round."""

import streamlit as st

from engine.labs import get_lab
from engine.labs.tournament.config import WINNER_RULES
from engine.labs.tournament.mechanisms import parse_mechanisms
from engine.runtime.store import Run
from ui import live
from ui.figures import Prebuilt
from ui.results import explain
from ui.run_panel import lab_header, live_controls, live_panel, look_for
from ui.tournament import (
    bundled_preview,
    cross_application_chart,
    curves_charts,
    reading,
    sample_grid,
    transfer_chart,
    win_history_chart,
    win_matrix_chart,
)

LAB = get_lab("tournament")
WINS_LOOK = "one dark cell per row, each in a different column: every mechanism owned by an expert of its own."
HISTORY_LOOK = "press Play: round by round, the rows sort themselves into distinct experts."
RULE_LABELS = {"argmax": "argmax, the paper's rule", "balanced": "balanced, a fair share per round"}
HEAVY_EVERY = (
    10.0  # seconds: a live run's megabyte figures (the animation over rounds, the image grids) move this often
)

preset, overrides, run = lab_header(
    LAB,
    "Digits are transformed by **hidden mechanisms** — eight shifts, contrast inversion, noise. A set of experts "
    "competes for every transformed digit: a discriminator judges whose output looks most like a clean digit, and "
    "**only the winner learns** from it. Round by round each expert becomes the inverse of one mechanism, without "
    "ever being told which mechanism made which digit (Parascandolo et al. 2018).",
    r"j^\ast(x') = \arg\max_j D\big(E_j(x')\big),\qquad "
    r"\max_{E_{j^\ast}}\ \log D\big(E_{j^\ast}(x')\big),\qquad "
    r"\max_D\ \mathbb{E}_{x\sim P}\log D(x) + \mathbb{E}_{x'\sim Q}\log\big(1 - D(E_{j^\ast}(x'))\big)",
)


def evaluation_panels(test: dict, transfer: dict, config: dict, when: str, key: tuple) -> None:
    """The cross-application matrix, a sample grid, and transfer to held-out classes; each figure built once per
    `key` (the evaluation it shows) and sample for every session (ui.live)."""
    mechanisms = parse_mechanisms(config["mechanisms"])
    st.subheader("Does each expert undo its own mechanism, and only it?")
    st.markdown(reading(test, mechanisms, config["owned_share"]))
    matrix, grid = st.columns(2)
    matrix.plotly_chart(
        live.shared(
            "tournament.cross",
            key,
            lambda: Prebuilt(cross_application_chart(test, mechanisms, f"Every expert on every mechanism ({when})")),
        ),
        width="stretch",
        key="tournament.cross",
    )
    look_for(matrix, "one dark cell per row and per column: each expert undoes one mechanism, and only that one.")
    sample = grid.radio("Sample digit", range(test["inputs"].shape[1]), horizontal=True, key="tournament.sample")
    grid.plotly_chart(
        live.shared(
            "tournament.grid",
            (*key, sample),
            lambda: Prebuilt(
                sample_grid(test, mechanisms, sample, "Inputs, every expert's output (winner framed), clean original")
            ),
            heavy=True,
        ),
        width="stretch",
        key="tournament.grid",
    )
    look_for(grid, "the framed winner's output looking like the clean original on the right.")
    st.subheader("Transfer: digits the experts never saw")
    chart, held = st.columns(2)
    chart.plotly_chart(
        live.shared(
            "tournament.transfer",
            key,
            lambda: Prebuilt(transfer_chart(test, transfer, mechanisms, config["held_out_classes"])),
        ),
        width="stretch",
        key="tournament.transfer",
    )
    look_for(chart, "errors on digit classes the experts never saw close to those on the classes they trained on.")
    held.plotly_chart(
        live.shared(
            "tournament.transfer_grid",
            (*key, sample),
            lambda: Prebuilt(sample_grid(transfer, mechanisms, sample, "Held-out classes: inputs, outputs, original")),
            heavy=True,
        ),
        width="stretch",
        key="tournament.transfer_grid",
    )
    look_for(held, "the winners still undoing their mechanism on digits they never saw.")


def curve_charts(latest: Run) -> tuple[Prebuilt, Prebuilt]:
    metrics = live.metrics(latest, ["owned_in_training", "owned", "discriminator_loss", "expert_loss"])
    owned, losses = curves_charts(metrics, live.events(latest))
    return Prebuilt(owned), Prebuilt(losses)


def draw(latest: Run) -> None:
    """The run's figures, each built once per new snapshot or step for every session watching (ui.live)."""
    mechanisms = parse_mechanisms(latest.config["mechanisms"])
    wins = live.snapshot(latest, "wins")
    if wins is None:
        st.info("The experts are learning the identity first; the tournament starts in a few seconds.")
        return
    # both win figures from one snapshot, taken at the animation's slower pace, so that they show the same rounds
    step, history = live.snapshot(latest, "wins", HEAVY_EVERY) or wins
    current, past = st.columns(2)
    first = max(step - latest.config["report_every"] + 1, 1)
    current.plotly_chart(
        live.shared(
            "tournament.wins",
            (latest.id, step),
            lambda: Prebuilt(win_matrix_chart(history["counts"], mechanisms, f"Who wins: rounds {first}–{step}")),
        ),
        width="stretch",
        key="tournament.wins",
    )
    look_for(current, WINS_LOOK)
    past.plotly_chart(
        live.shared(
            "tournament.history",
            (latest.id, step),
            lambda: Prebuilt(win_history_chart(history["rounds"], history["shares"], mechanisms)),
            heavy=True,
        ),
        width="stretch",
        key="tournament.history",
    )
    look_for(past, HISTORY_LOOK)
    owned, losses = live.shared("tournament.curves", (latest.id, live.version(latest)), lambda: curve_charts(latest))
    left, right = st.columns(2)
    left.plotly_chart(owned, width="stretch", key="tournament.owned")
    look_for(left, "the count climbing toward the number of mechanisms.")
    right.plotly_chart(losses, width="stretch", key="tournament.losses")
    look_for(right, "the discriminator's and the winners' losses levelling off as the experts specialise.")
    test, transfer = live.snapshot(latest, "test", HEAVY_EVERY), live.snapshot(latest, "transfer", HEAVY_EVERY)
    if test is None or transfer is None:
        st.caption("The cross-application and transfer panels appear at the first evaluation.")
        return
    evaluation_panels(test[1], transfer[1], latest.config, f"after round {test[0]}", (latest.id, test[0], transfer[0]))


if run is None:
    st.caption(
        "No run yet: this is the tournament bundled with Dreamlab (a quick-preset run), replayed now on "
        "held-out digits. Press **Train** to hold your own."
    )
    rule = (
        st.segmented_control(
            "Winner rule of the bundled tournament",
            WINNER_RULES,
            default="argmax",
            format_func=RULE_LABELS.get,
            key="tournament.bundled_rule",
        )
        or "argmax"
    )
    preview = bundled_preview(rule)
    mechanisms = parse_mechanisms(preview["config"]["mechanisms"])
    current, past = st.columns(2)
    current.plotly_chart(
        live.shared(
            "tournament.bundled_wins",
            (rule,),
            lambda: Prebuilt(
                win_matrix_chart(preview["test"]["wins"], mechanisms, f"Who wins each test digit ({RULE_LABELS[rule]})")
            ),
        ),
        width="stretch",
        key="tournament.wins",
    )
    look_for(current, WINS_LOOK)
    past.plotly_chart(
        live.shared(
            "tournament.bundled_history",
            (rule,),
            lambda: Prebuilt(win_history_chart(preview["wins"]["rounds"], preview["wins"]["shares"], mechanisms)),
        ),
        width="stretch",
        key="tournament.history",
    )
    look_for(past, HISTORY_LOOK)
    evaluation_panels(preview["test"], preview["transfer"], preview["config"], "bundled run", ("bundled", rule))
else:
    live_controls(LAB.name, LAB.space, run)
    live_panel(run, draw)

with st.expander("What the figures show", expanded=True):
    explain(__file__, LAB.name)
