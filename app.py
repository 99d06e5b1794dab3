"""Dreamlab: train small models live in the browser. `streamlit run app.py`."""

import streamlit as st

from ui.engine import engine_status

st.set_page_config(page_title="Dreamlab", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/meta_rl.py", title="Learning to reinforcement learn", icon="🎰", url_path="meta_rl"),
    st.Page("pages/runs.py", title="Runs", icon="📋", url_path="runs"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    engine_status()
navigation.run()
