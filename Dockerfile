# The hosted demo: `docker build -t dreamlab . && docker run -p 8501:8501 -v dreamlab-data:/data dreamlab`
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    DREAMLAB_DATA=/data \
    PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .

VOLUME /data
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true", \
     "--browser.gatherUsageStats=false"]
