"""Runs: every run from the app and the CLI, with what happened to it (resumed, branched); open one, compare two,
export, download, delete."""

import time

import pandas as pd
import streamlit as st

from engine.labs import get_lab
from engine.params import ConfigError
from engine.runtime.store import Run
from ui import live
from ui.engine import job_manager, store, visitor
from ui.figures import Prebuilt, metric_chart
from ui.params import ignored_in_link, url_number
from ui.run_panel import key_figures, live_panel, run_label

st.title(":material/list_alt: Runs")
runs = store().list_runs()
if not runs:
    st.info("No runs yet. Open a lab and press Train, or run `python -m engine train meta_rl --preset quick`.")
    st.stop()

me = visitor()


@st.fragment(run_every=5 if any(r.active for r in runs) else None)
def runs_table() -> None:
    """Every run, its progress as the lab pages show it (whole per cent), redrawn while any run trains."""
    histories = store().histories()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": r.id,
                    "lab": r.lab,
                    "status": r.status,
                    "progress": round(100 * r.progress),
                    "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
                    "owner": "you" if r.owner == me.id else (r.owner if r.owner == "cli" else "another visitor"),
                    "key figures": key_figures(r),
                    "history": " · ".join(histories.get(r.id, [])),
                }
                for r in store().list_runs()
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"progress": st.column_config.ProgressColumn("progress", format="%d %%", max_value=100)},
    )


runs_table()
by_id = {r.id: r for r in runs}
ids = list(by_id)
wanted = url_number("run")
if wanted is not None and wanted not in by_id:
    ignored_in_link("run", st.query_params["run"], "there is no such run")
chosen = st.selectbox(
    "Open run",
    ids,
    index=ids.index(wanted) if wanted in by_id else 0,
    format_func=lambda i: f"{by_id[i].lab} {run_label(by_id[i])}",
)
others = [i for i in ids if i != chosen and by_id[i].lab == by_id[chosen].lab]
wanted_compare = url_number("compare")
compare = st.selectbox(
    "Compare with",
    [None, *others],
    format_func=lambda i: "—" if i is None else run_label(by_id[i]),
    index=[None, *others].index(wanted_compare) if wanted_compare in others else 0,
)
st.query_params.from_dict({"run": str(chosen), **({"compare": str(compare)} if compare else {})})
run = by_id[chosen]
lab = get_lab(run.lab)
st.page_link(
    lab.page,
    label=f"Open run #{run.id} in the {lab.title} lab",
    icon=":material/open_in_new:",
    query_params={"run": str(run.id)},
)


def draw(latest: Run) -> None:
    """The chosen metric, read and drawn once per new step for every session watching (ui.live)."""
    metrics = live.metrics(latest)
    if not metrics:
        st.caption("No metrics yet.")
        return
    names = sorted(metrics)
    headline = get_lab(latest.lab).headline
    name = st.selectbox("Metric", names, index=names.index(headline) if headline in names else 0, key="runs.metric")

    def chart() -> Prebuilt:
        series = {f"#{latest.id}": metrics[name]}
        if compare is not None and name in (other := store().metrics(compare, [name])):
            series[f"#{compare}"] = other[name]
        return Prebuilt(metric_chart(series, name, events=live.events(latest), smoothing=5))

    st.plotly_chart(
        live.shared("runs.metric", (latest.id, live.version(latest), name, compare), chart), width="stretch"
    )


live_panel(run, draw)

with st.expander("Config and summary"):
    st.json({"config": run.config, "summary": run.summary})

export, checkpoint, delete = st.columns(3)
export.download_button(
    "Export metrics (CSV)",
    store().metrics_csv(run.id),
    file_name=f"run-{run.id}-metrics.csv",
    mime="text/csv",
    width="stretch",
)
checkpoint_path = store().checkpoint_path(run.id)
checkpoint.download_button(
    "Download checkpoint",
    checkpoint_path.read_bytes() if checkpoint_path.exists() else b"",
    file_name=checkpoint_path.name,
    disabled=not checkpoint_path.exists(),
    width="stretch",
)
mine = me.may_control(run)
if delete.button(
    "Delete run",
    width="stretch",
    disabled=run.active or not mine,
    help="Stop it first"
    if run.active
    else "Removes its metrics, snapshots and checkpoint"
    if mine
    else "Only its owner can delete it",
):
    try:
        job_manager().delete(run.id, by=me)
        st.query_params.clear()
        st.rerun()
    except ConfigError as error:
        st.error(str(error))
