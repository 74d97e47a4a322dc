"""A stream whose last text and its `event: error` arrive in one read: the text is shown as well as
kept. Found by the soak suite: the text went into the conversation (so Claude, asked to go on, had
nothing to add) but never reached the thread, and the question looked unanswered."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.claude.api import ClaudeApi, ResponseCutOff
from bot.model import TextDelta, TurnEvent
from tests.unit.test_api_redirects import serve

EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Answered: t1m1!"},
        },
    ),
    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
]


async def test_text_arriving_with_the_error_that_ends_the_stream_is_shown() -> None:
    async def messages(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in EVENTS)
        await response.write(body.encode())  # one write: one read on the other side
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    runner, url = await serve(app)
    shown: list[TurnEvent] = []

    async def on_events(events: list[TurnEvent]) -> None:
        shown.extend(events)

    api = ClaudeApi(api_key="sk-ant-test-key-0123456789", base_url=url, max_retries=0, timeout=10)
    try:
        body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        try:
            await api.stream(body, on_events)
        except ResponseCutOff as cut:
            kept = cut.response.content
        else:
            raise AssertionError("the stream should have broken off")
    finally:
        await runner.cleanup()
    assert kept == [{"type": "text", "text": "Answered: t1m1!"}]
    assert "".join(e.text for e in shown if isinstance(e, TextDelta)) == "Answered: t1m1!"
