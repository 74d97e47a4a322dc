"""The API key never follows a redirect: an origin that answers every request with a redirect to
another host gets its requests refused there, and the other host never sees one (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import pytest
from aiohttp import web

from bot.claude.api import ClaudeApi
from bot.claude.errors import ClaudeError

KEY = "sk-ant-redirect-test-key-0123456789"


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"id": "file_1", "filename": "x", "mime_type": "", "size_bytes": 1})

    other = web.Application()
    other.router.add_route("*", "/{tail:.*}", elsewhere)
    other_runner, other_url = await serve(other)

    async def redirect(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect(f"{other_url}{request.path_qs}")

    origin = web.Application()
    origin.router.add_route("*", "/{tail:.*}", redirect)
    origin_runner, origin_url = await serve(origin)
    try:
        yield origin_url, seen
    finally:
        await origin_runner.cleanup()
        await other_runner.cleanup()


async def test_no_request_follows_a_redirect_to_another_host(
    hosts: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    origin, seen = hosts
    api = ClaudeApi(api_key=KEY, base_url=origin, max_retries=0, timeout=10)
    source = tmp_path / "a.csv"
    source.write_bytes(b"a\n1\n")

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a\n1\n"

    async def nothing(_: object) -> None:
        return None

    try:
        with pytest.raises(ClaudeError):
            await api.stream({"model": "m", "max_tokens": 5, "messages": []}, nothing)
        with pytest.raises(ClaudeError):
            await api.upload_file(source, "a.csv", "text/csv")
        with pytest.raises(ClaudeError):
            await api.upload_stream(chunks(), 4, "a.csv", "text/csv")
        with pytest.raises(ClaudeError):
            await api.download_file("file_1", tmp_path / "out", max_bytes=100)
        with pytest.raises(ClaudeError):
            await api.file_info("file_1")
        with pytest.raises(anthropic.APIStatusError):
            await api.delete_file("file_1")
    finally:
        await api.close()
    assert seen == [], "a request followed the redirect to another host"
