"""Helpers for tests that drive real Slack clients (slack_sdk, slack_bolt) against the emulator."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from .server import SlackEmulator


def web_client(slack: SlackEmulator, token: str | None = None) -> AsyncWebClient:
    """A real SDK client pointed at the emulator (`SLACK_API_URL`)."""
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_url)


def bolt_app(slack: SlackEmulator, **kwargs: Any) -> AsyncApp:
    """A real Bolt AsyncApp wired to the emulator, as the product wires itself to Slack."""
    return AsyncApp(client=web_client(slack), signing_secret=slack.signing_secret, **kwargs)


@asynccontextmanager
async def socket_mode(slack: SlackEmulator, app: AsyncApp) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect `app` through apps.connections.open + WebSocket; waits for the emulator to see it."""
    handler = AsyncSocketModeHandler(app, slack.app_token)
    before = len(slack.connections)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    await slack.wait_for(lambda: len(slack.connections) > before, what="socket mode connection")
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


@asynccontextmanager
async def http_app(app: AsyncApp, path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve Bolt's aiohttp app on a free localhost port; yields the Request URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app.web_app(path=path), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    finally:
        await runner.cleanup()
