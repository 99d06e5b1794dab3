"""Shared Streamlit widgets and Plotly figure builders. Pages stay thin by calling these."""
