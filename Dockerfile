# syntax=docker/dockerfile:1
# The bot in a small image: build in one stage, run without build tools as a non-root user.
# tests/e2e/test_dockerfile.py repeats the install steps below in a clean virtualenv and starts the result.

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install '.[postgres]'

FROM python:3.11.7-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/bot.db
RUN useradd --system --uid 10001 --home-dir /app --create-home bot \
 && mkdir /data && chown bot /data
COPY --from=build /opt/venv /opt/venv
USER bot
WORKDIR /app
# The SQLite database of a single replica lives here; use PostgreSQL (DATABASE_URL) for several.
VOLUME ["/data"]
EXPOSE 3000
# HTTP mode serves /healthz on PORT (default 3000); in Socket Mode without PORT there is no HTTP
# server, and the check passes as long as the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD \
  python -c "import os, sys, urllib.request; port = os.environ.get('PORT') or ('' if os.environ.get('SLACK_APP_TOKEN') else '3000'); sys.exit(0) if not port else urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"
ENTRYPOINT ["python", "-m", "bot"]
