# syntax=docker/dockerfile:1
# Samplan image: one image, two processes. `samplan api` (default, port 8000) or `samplan ui` (port 8080).
# Runs as the unprivileged user `samplan`, which owns only its data folder (/var/lib/samplan) and working directory.

# A fixed release (bump it deliberately, like the locks).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- builder: build a wheel and install it with its dependencies into /opt/venv ------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY domain ./domain
COPY server ./server
COPY realtime ./realtime
COPY ui ./ui

# Dependencies from the hashed lock only; the wheel itself brings none of its own.
RUN pip install --require-hashes -r requirements.lock \
 && pip wheel --no-deps --wheel-dir /dist . \
 && pip install --no-deps /dist/samplan-*.whl \
 && pip check

# --- runtime ------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# NICEGUI_STORAGE_PATH: the UI's own files (its session store unless NICEGUI_REDIS_URL is set, as in compose.yaml)
# in the data folder, never in the working directory.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SAMPLAN_DATA_DIR=/var/lib/samplan \
    NICEGUI_STORAGE_PATH=/var/lib/samplan/ui \
    SAMPLAN_API_HOST=0.0.0.0 \
    SAMPLAN_UI_HOST=0.0.0.0

# DejaVu Sans: the Unicode font of the SIP PDF export.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 samplan \
 && useradd --system --uid 10001 --gid samplan --home-dir /var/lib/samplan --no-create-home \
            --shell /usr/sbin/nologin samplan \
 && mkdir -p /var/lib/samplan/ui /app \
 && chown -R samplan:samplan /var/lib/samplan /app \
 && chmod 0700 /var/lib/samplan /var/lib/samplan/ui

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER samplan:samplan

EXPOSE 8000 8080

# Checks the API. compose.yaml overrides it for the UI containers (port 8080).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["samplan", "api"]
