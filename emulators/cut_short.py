"""A download that breaks off: the drill both emulators offer for a connection lost mid-file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web


async def serve_cut_short(
    request: web.Request, path: Path, headers: dict[str, str], after_bytes: int
) -> web.StreamResponse:
    """Announce the whole file (Content-Length), send its first `after_bytes` bytes, then drop the
    connection, as a server or proxy that dies mid-transfer does. The client sees a body that ends
    before its length (aiohttp: ClientPayloadError)."""
    data = await asyncio.to_thread(path.read_bytes)
    response = web.StreamResponse(headers=headers)
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[: min(after_bytes, max(0, len(data) - 1))])
    if request.transport is not None:
        request.transport.close()
    return response
