"""Dreamlab: train small models live in the browser. `streamlit run app.py`."""


from pathlib import Path

import streamlit as st

from ui.engine import engine_status, remember_visitor, visitor

# a local icon: a `:material/…:` tab icon is fetched from a font CDN, which an offline deployment cannot reach
st.set_page_config(page_title="Dreamlab", page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
                   layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/meta_rl.py", title="Learning to reinforcement learn", icon=":material/casino:",
            url_path="meta_rl"),
    st.Page("app_pages/world_models.py", title="World Models", icon=":material/cloud:", url_path="world_models"),
    st.Page("app_pages/tdm.py", title="Temporal Difference Models", icon=":material/radar:", url_path="tdm"),
    st.Page("app_pages/tournament.py", title="Expert tournament", icon=":material/emoji_events:",
            url_path="tournament"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/list_alt:", url_path="runs"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    visitor()  # an `?admin=` token in the link is read (and removed) on whichever page it arrives
    remember_visitor()
    engine_status()
navigation.run()
