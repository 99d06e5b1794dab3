"""Dreamlab's engine: everything but the Streamlit app. It knows nothing of Streamlit.

Floors, each importing only from the floors below it (docs/architecture.md, "How the code is laid out"):
- `params.py` and `context.py`, the ground floor: a ParamSpace, and the `ctx` a trainer talks to. Anything may
  import them; they import nothing of Dreamlab but each other (context imports params).
- `labs/`: the science, one package per lab, and the lab registry. Imports only the ground floor.
- `runtime/`: the scheduler, launchers, the store, checkpoints. Imports labs (through the registry) and the
  ground floor.
- `cli.py` (`python -m engine`): the command line, on the app's floor: imports the runtime and labs, and the
  load client in tools/ for its `load` command. Nothing imports it but `__main__.py`.
"""
