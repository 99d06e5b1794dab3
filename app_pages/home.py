"""Home: what Dreamlab is, and one card per lab with a picture from a real run."""

from pathlib import Path

import streamlit as st

from engine.labs import LABS
from ui.world_models import bundled_picture

ASSETS = Path(__file__).resolve().parents[1] / "assets"

st.title(":material/science: Dreamlab")
st.markdown(
    "Train small models **live** in your browser and watch four ideas from reinforcement-learning research "
    "work in front of you. Pick a lab, press **Train**, move the sliders while it learns, and read the figures. "
    "Every run keeps going when you close the tab; the **Runs** page lists them all."
)
for lab in LABS.values():
    with st.container(border=True):
        picture, text = st.columns([2, 3])
        image = ASSETS / f"{lab.name}.png"
        if lab.name == "world_models":  # drawn from the world bundled with the app
            picture.image(
                bundled_picture(), caption="Doom: the real game (top), M's dream of it at τ = 1", width="stretch"
            )
        elif image.exists():
            picture.image(str(image))
        text.subheader(lab.title)
        text.write(lab.idea)
        text.caption(f":material/description: The paper: {lab.paper}")
        text.page_link(lab.page, label=f"Open the {lab.title} lab", icon=":material/play_arrow:")
st.caption(
    "Every lab also runs from the command line: `python -m engine train meta_rl`, and `python -m engine --help` "
    "for the rest."
)
