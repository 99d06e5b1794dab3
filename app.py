"""Dreamlab: train small models live in the browser. `streamlit run app.py`.

`streamlit run` finds `app` below, an `st.App`, and serves this same file as every session's script (there,
`__name__` is "__main__"). The App's lifespan starts the job manager with the server, not with its first visitor:
runs whose workers died with an earlier server resume from their checkpoints at once, in both profiles.
"""

import sys
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

from engine.labs import LABS
from engine.params import ConfigError
from ui.engine import errors_shown, job_manager, remember_visitor, visitor
from ui.live import engine_status
from ui.params import link_notice


@asynccontextmanager
async def lifespan(_app: st.App):
    """At server start: the job manager, which settles the runs an earlier server left (they resume)."""
    try:
        job_manager()
    except ConfigError as error:  # e.g. an unreachable Ray cluster: every page says so too
        print(f"dreamlab: {error}", file=sys.stderr)
    yield


def main() -> None:
    # a local icon: a `:material/…:` tab icon is fetched from a font CDN, which an offline deployment cannot reach
    st.set_page_config(
        page_title="Dreamlab", page_icon=str(Path(__file__).parent / "assets" / "favicon.png"), layout="wide"
    )
    pages = [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        *(st.Page(lab.page, title=lab.title, icon=lab.icon, url_path=lab.url) for lab in LABS.values()),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/list_alt:", url_path="runs"),
    ]
    navigation = st.navigation(pages)
    # whatever escapes errors_shown (a widget's callback): the hosted profile's visitors see no traceback either
    st.set_option("client.showErrorDetails", "none" if job_manager().settings.hosted else "full")
    with st.sidebar:
        visitor()  # an `?admin=` token in the link is read (and removed) on whichever page it arrives
        remember_visitor()
        engine_status()
    link_notice()  # one line above the page for whatever in its link the page could not use
    with errors_shown():
        navigation.run()


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run app.py`: the server
    app = st.App(__file__, lifespan=lifespan)
