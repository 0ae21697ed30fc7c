# syntax=docker/dockerfile:1
# The service image. `triage serve` by default (the API, the store's migrations and
# `jobs.in_process_workers` workers); the same image runs `triage worker --metrics-port 9100`.

# --- builder: the project and its dependencies as wheels ------------------------------------
FROM python:3.11-slim-bookworm AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hashes ./hashes
COPY triage ./triage
COPY workers ./workers
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime: slim, ffmpeg, the wheels, no compiler, a numeric non-root user ---------------
FROM python:3.11-slim-bookworm

# ffmpeg: the decoders the hashers rely on. Pinned to Debian 12's current build so an image
# is rebuilt with the same decoders; raise the pin with Debian's security updates
# (`apt-cache policy ffmpeg` in a bookworm container shows the candidate).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg=7:5.1.9-0+deb12u1 \
    && rm -rf /var/lib/apt/lists/*

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/takedown_triage-*.whl

# Numeric ids, so a runtime that refuses root can check the user without reading /etc/passwd.
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home triage

WORKDIR /app
COPY config.yaml ./

# Media, uploads and the SQLite database live in /data; mount a volume to keep them (serve
# and workers must share it: workers read the uploads serve received).
ENV PYTHONUNBUFFERED=1 \
    TRIAGE_DATA_DIR=/data \
    TRIAGE_STORE__URL=sqlite:////data/triage.sqlite3 \
    TRIAGE_SERVER__HOST=0.0.0.0 \
    TRIAGE_SERVER__PORT=8080 \
    TRIAGE_METRICS__HOST=0.0.0.0
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080 9100

# Ready: the store answers and the hash list is loaded (/readyz says 503 until then).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TRIAGE_SERVER__PORT', '8080') + '/readyz', timeout=4)"]

# The only process: it makes (or upgrades) the store on the volume before serving.
CMD ["triage", "serve", "--migrate", "--host", "0.0.0.0"]
