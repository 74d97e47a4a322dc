"""A round-robin HTTP load balancer for the replicas tests: what sits in front of HTTP-mode replicas.

It forwards each request to the next backend and, like a real balancer with health checks, skips a
backend whose connection is refused (a dead replica) and tries the next one.
"""

from __future__ import annotations

import itertools

import aiohttp
from aiohttp import web

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class Balancer:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        self.forwarded: list[tuple[str, int]] = []

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        for _ in range(len(self.backends)):
            backend = self.backends[next(self._next)]
            try:
                async with self._session.request(
                    request.method, backend + request.path_qs, data=body, headers=headers
                ) as resp:
                    payload = await resp.read()
                    self.forwarded.append((backend, resp.status))
                    return web.Response(
                        status=resp.status,
                        body=payload,
                        headers={k: v for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS},
                    )
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502, text="no backend")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
