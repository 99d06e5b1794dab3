"""What the app never runs, each as `python -m tools.<name>`: the load client (load.py, also `python -m engine
load`), the Ray bench (ray_bench.py), the bundled World Models world's maker (world_models_bundle.py) and the
Docker image's smoke test (image_smoke.py). The Docker image leaves this folder out.

May import engine.* (and the image smoke test the suite's own browser settings from tests/); never ui/ or
app_pages/. Only engine.cli imports it (load.py, lazily, for the `load` command).
"""
