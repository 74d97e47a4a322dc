"""Where a response goes: straight into a JSON body, or out as Server-Sent Events.

The SSE sequence is the recorded one (reference §7)::

    message_start (no container; usage with input/cache figures) -> ping after the first block start
    content_block_start/delta/stop per block (text_delta; input_json_delta starting with "";
        *_tool_result blocks arrive whole in content_block_start)
    message_delta (stop_reason, stop_sequence, stop_details, container; cumulative usage)
    message_stop

Every event has its ``event:`` line (the SDK skips nameless events, §0). Serialisation is by hand
for the hot ``text_delta`` path and compact JSON otherwise; events are kept (as dicts) only when
the emulator validates responses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Sink(Protocol):
    streaming: bool

    async def message_start(self, message: dict[str, Any]) -> None: ...
    async def block_start(self, index: int, block: dict[str, Any]) -> None: ...
    async def text_delta(self, index: int, text: str) -> None: ...
    async def input_delta(self, index: int, partial: str) -> None: ...
    async def citation_delta(self, index: int, citation: dict[str, Any]) -> None: ...
    async def block_stop(self, index: int) -> None: ...
    async def ping(self) -> None: ...
    async def message_delta(
        self, delta: dict[str, Any], usage: dict[str, Any], extra: dict[str, Any]
    ) -> None: ...
    async def message_stop(self) -> None: ...
    async def flush(self) -> None: ...


class JsonSink:
    """Non-streaming: the final message is the body; nothing is sent along the way."""

    streaming = False

    async def message_start(self, message: dict[str, Any]) -> None:
        return None

    async def block_start(self, index: int, block: dict[str, Any]) -> None:
        return None

    async def text_delta(self, index: int, text: str) -> None:
        return None

    async def input_delta(self, index: int, partial: str) -> None:
        return None

    async def citation_delta(self, index: int, citation: dict[str, Any]) -> None:
        return None

    async def block_stop(self, index: int) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def message_delta(
        self, delta: dict[str, Any], usage: dict[str, Any], extra: dict[str, Any]
    ) -> None:
        return None

    async def message_stop(self) -> None:
        return None

    async def flush(self) -> None:
        return None


class SseSink:
    streaming = True

    def __init__(
        self,
        response: web.StreamResponse,
        *,
        keep_events: bool,
        on_first_byte: Callable[[float], None],
        on_first_token: Callable[[float], None],
    ) -> None:
        self.response = response
        self.events: list[dict[str, Any]] | None = [] if keep_events else None
        self._on_first_byte = on_first_byte
        self._on_first_token: Callable[[float], None] | None = on_first_token
        self._buffer: list[str] = []
        self._started = False
        self._pinged = False
        self.hold_end = False
        """Set when an injected failure must end the stream: the end never comes."""

    async def _send(self, data: str) -> None:
        self._buffer.append(data)

    async def flush(self) -> None:
        """Write the buffered events in one go. The response run flushes whenever time is about to
        pass (a sleep, code running) and at the end, so events reach the client on schedule while
        back-to-back events cost one write instead of several."""
        if not self._buffer:
            return
        if not self._started:
            self._started = True
            self._on_first_byte(time.time())
        data = "".join(self._buffer).encode()
        self._buffer.clear()
        await self.response.write(data)

    async def _event(self, event: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.append(event)
        await self._send(f"event: {event['type']}\ndata: {_compact(event)}\n\n")

    async def message_start(self, message: dict[str, Any]) -> None:
        await self._event({"type": "message_start", "message": message})

    async def block_start(self, index: int, block: dict[str, Any]) -> None:
        await self._event({"type": "content_block_start", "index": index, "content_block": block})
        if not self._pinged:  # recorded streams ping right after the first block starts
            self._pinged = True
            await self._send('event: ping\ndata: {"type": "ping"}\n\n')

    def _first_token(self) -> None:
        if self._on_first_token is not None:
            self._on_first_token(time.time())
            self._on_first_token = None

    async def text_delta(self, index: int, text: str) -> None:
        if self._on_first_token is not None:
            self._first_token()
        if self.events is not None:
            self.events.append(
                {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}
            )
        await self._send(
            f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":{index},'
            f'"delta":{{"type":"text_delta","text":{_compact(text)}}}}}\n\n'
        )

    async def input_delta(self, index: int, partial: str) -> None:
        if self._on_first_token is not None and partial:
            self._first_token()
        await self._event(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": partial},
            }
        )

    async def citation_delta(self, index: int, citation: dict[str, Any]) -> None:
        await self._event(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "citations_delta", "citation": citation},
            }
        )

    async def block_stop(self, index: int) -> None:
        await self._event({"type": "content_block_stop", "index": index})

    async def ping(self) -> None:
        await self._send('event: ping\ndata: {"type": "ping"}\n\n')
        await self.flush()

    async def message_delta(
        self, delta: dict[str, Any], usage: dict[str, Any], extra: dict[str, Any]
    ) -> None:
        if self.hold_end:
            await self.flush()
            await asyncio.get_running_loop().create_future()  # cancelled at the failure's deadline
        await self._event({"type": "message_delta", "delta": delta, "usage": usage, **extra})

    async def message_stop(self) -> None:
        await self._event({"type": "message_stop"})

    async def error(self, body: dict[str, Any]) -> None:
        """A mid-stream failure: ``event: error`` with the usual error body; the SDK raises on it."""
        if self.events is not None:
            self.events.append(body)
        await self._send(f"event: error\ndata: {_compact(body)}\n\n")
        await self.flush()
