"""Runs labs: the scheduler (jobs.py), launchers (local subprocesses, Ray), the store (SQLite, the only channel
between the app, the workers and the CLI), worker processes, checkpoints, the hosted profile's settings and access.

May import engine.labs (the registry: a run's lab, its ParamSpace and trainer), engine.params and engine.context;
never ui/, app_pages/, tools/ or engine.cli. Imported by ui/, engine.cli and tools/; a lab never imports it.
"""
