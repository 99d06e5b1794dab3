"""Dreamlab's engine: labs (the science) and the runtime that runs them. Knows nothing of Streamlit."""
