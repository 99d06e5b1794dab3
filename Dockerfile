# The hosted demo: `docker build -t dreamlab . && docker run -p 8501:8501 -v dreamlab-data:/data dreamlab`
# Every knob of the hosted profile is an environment variable (README: "The hosted profile"); pass them with -e.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    DREAMLAB_DATA=/data \
    DREAMLAB_MODE=demo \
    PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

# an unprivileged user owns the data volume and runs the server and every worker
RUN useradd --create-home --uid 10001 dreamlab && mkdir -p /data && chown dreamlab:dreamlab /data
COPY --chown=root:root . .
USER dreamlab

VOLUME /data
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true", \
     "--browser.gatherUsageStats=false"]
