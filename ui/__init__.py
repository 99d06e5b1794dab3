"""Shared Streamlit pieces the pages are built from: widgets generated from a lab's ParamSpace (params.py), the run
panel, the app's one job manager and who the visitor is (engine.py), cheap live views shared by every session
(live.py), Plotly builders (figures.py) and one module of figures per lab.

May import engine.* (runtime, labs, params); never app_pages/ or tools/. Imported by app.py and app_pages/ only.
"""
