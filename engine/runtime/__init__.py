"""Runs labs: the store (SQLite), worker processes, live control, checkpoints."""
