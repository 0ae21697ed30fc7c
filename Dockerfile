# The service image: `triage serve` with its in-process workers.
FROM python:3.11-slim

# ffmpeg: the decoders the hashers rely on; no recommends keeps the image small.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md config.yaml ./
COPY hashes ./hashes
COPY triage ./triage
COPY workers ./workers
RUN pip install --no-cache-dir .

# Media, uploads and the SQLite database live here; mount a volume to keep them.
ENV TRIAGE_DATA_DIR=/data \
    TRIAGE_STORE__URL=sqlite:////data/triage.sqlite3
RUN useradd --system --home-dir /data --create-home triage
USER triage
VOLUME ["/data"]
EXPOSE 8080

# The only process: it makes (or upgrades) the store on the volume before serving.
CMD ["triage", "serve", "--migrate", "--host", "0.0.0.0"]
