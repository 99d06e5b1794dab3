# The hosted demo: `docker build -t dreamlab . && docker run -p 8501:8501 -v dreamlab-data:/data dreamlab`
# Every knob of the hosted profile is an environment variable (docs/deploying.md: "The hosted profile"); pass them with -e.
# On Hugging Face Spaces this file is the Space's recipe (docs/deploying.md: "Hugging Face Spaces"): uid 1000, app_port 8501.
FROM python:3.11-slim

# torch's CPU build: PyTorch's CPU wheel index beside PyPI (PyPI's torch would pull ~3 GB of CUDA libraries this
# image never uses). Built offline from a folder of wheels instead: --build-arg PIP_FIND_LINKS=/wheels (mounted
# with -v) and --build-arg PIP_EXTRA_INDEX_URL= (docs/deploying.md: "The Docker image").
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=

ENV PYTHONUNBUFFERED=1 \
    DREAMLAB_DATA=/data \
    DREAMLAB_MODE=demo \
    PORT=8501 \
    PIP_NO_CACHE_DIR=1
WORKDIR /app

# Left out: Ray (240 MB), which only reaches a cluster (DREAMLAB_RAY_ADDRESS) that a hosted demo does not have;
# torch's C++ test programs and headers (145 MB), which only building C++ extensions would use
# dumb-init (a wheel on PyPI, so a folder of wheels builds it offline too) is the container's PID 1: it reaps the
# orphans of killed workers (ViZDoom's engine) and passes signals on to the server
COPY requirements.txt .
RUN grep -v '^ray' requirements.txt > /tmp/requirements.txt && pip install -r /tmp/requirements.txt dumb-init \
    && python -c "import torch; assert not torch.version.cuda, 'torch is a CUDA build'" && rm /tmp/requirements.txt \
    && python -c "import shutil, torch; [shutil.rmtree(f'{torch.__path__[0]}/{d}') for d in ('test', 'include')]"

# uid 1000 (Hugging Face Spaces runs a container as 1000) owns the data volume and runs the server and every worker
RUN useradd --create-home --uid 1000 dreamlab && mkdir -p /data && chown dreamlab:dreamlab /data
COPY --chown=root:root . .
USER dreamlab

VOLUME /data
EXPOSE 8501
# healthy: the server answers, its job manager goes round, the store answers and the data disk has room
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD python -m engine.runtime.health
ENTRYPOINT ["dumb-init", "--"]
# the environment is checked first (one line for a bad PORT, knob or data directory), then the server starts on every
# interface of the container (the local profile's default is loopback only: .streamlit/config.toml)
CMD python -m engine.runtime.settings && exec streamlit run app.py --server.port="$PORT" --server.address=0.0.0.0 \
    --server.headless=true --browser.gatherUsageStats=false
