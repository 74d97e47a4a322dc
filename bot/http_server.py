"""The bot's HTTP endpoints: Slack's `/slack/events` (HTTP mode), health, readiness and metrics.

`/metrics` tells anyone who can reach it how much the bot is used, so it is not served openly on the
public port (`PORT`): there it needs `Authorization: Bearer <METRICS_TOKEN>`, and without a token it is
refused. `METRICS_PORT` serves `/metrics` (and `/readyz`, `/healthz`) on a port of its own, bound to
`METRICS_HOST` (127.0.0.1 by default), for a scraper on the same host or network namespace.

Neither a scrape nor a probe touches the database each time: the inbox gauge is refreshed in the
background, and a readiness answer is reused for a couple of seconds (one database ping at a time,
however many probes arrive).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import metrics

log = logging.getLogger(__name__)

GAUGE_REFRESH_SECONDS = 15.0
READY_CACHE_SECONDS = 2.0
CHECK_TIMEOUT = 2.0


class Readiness:
    """The database's reachability, checked at most every READY_CACHE_SECONDS."""

    def __init__(self, ping: Callable[[], Awaitable[None]]) -> None:
        self._ping = ping
        self._checked = -1e9
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked < READY_CACHE_SECONDS:
                return self._ready
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await self._ping()
                self._ready = True
            except Exception as exc:
                if self._ready or self._checked < 0:
                    log.warning("not ready: the database is unreachable (%s)", type(exc).__name__)
                self._ready = False
            self._checked = time.monotonic()
            return self._ready


class GaugeRefresher:
    """Keeps the gauges that need the database fresh, off the scrape path."""

    def __init__(self, pending_count: Callable[[], Awaitable[int]]) -> None:
        self._pending_count = pending_count
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="metrics gauges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                metrics.INBOX_DEPTH.set(await self._pending_count())
        except Exception as exc:
            log.info("inbox depth unavailable: %s", type(exc).__name__)

    async def _loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(GAUGE_REFRESH_SECONDS)


def bearer_ok(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def _metrics_body(_: web.Request) -> web.Response:
    return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")


def health_routes(
    app: web.Application, readiness: Readiness, *, metrics_token: str | None, open_metrics: bool
) -> None:
    """`/healthz`, `/readyz` and `/metrics` (open, or only with the bearer token)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if await readiness.ready():
            return web.Response(text="ready")
        return web.Response(status=503, text="database unreachable")

    async def guarded_metrics(request: web.Request) -> web.Response:
        if open_metrics or bearer_ok(request, metrics_token):
            return await _metrics_body(request)
        if not metrics_token:
            return web.Response(
                status=403,
                text="metrics are not served on this port: set METRICS_PORT, or METRICS_TOKEN to scrape here",
            )
        return web.Response(
            status=401, text="missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", guarded_metrics)


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
