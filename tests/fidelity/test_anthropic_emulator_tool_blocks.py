"""How tool blocks stream: a call without arguments, and the documented start without ``input``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from emulators.anthropic import AnthropicEmulator, CallTool, Python, Script
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool

HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
DIRECT: Any = {
    "name": "now",
    "description": "The time.",
    "input_schema": {"type": "object", "properties": {}},
}


async def sse_events(emu: AnthropicEmulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{emu.base_url}/v1/messages", json={**body, "stream": True}, headers=HEADERS) as r,
    ):
        raw = (await r.read()).decode()
    return [json.loads(chunk.split("data: ", 1)[1]) for chunk in raw.strip().split("\n\n")]


def block_events(events: list[dict[str, Any]], kind: str) -> tuple[dict[str, Any], list[str]]:
    """The start of the first `kind` block and its input fragments."""
    start = next(
        e for e in events if e["type"] == "content_block_start" and e["content_block"]["type"] == kind
    )
    fragments = [
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["index"] == start["index"]
    ]
    return start["content_block"], fragments


async def test_a_call_without_arguments_streams_only_the_empty_fragment(emu: AnthropicEmulator) -> None:
    emu.model = Script([[CallTool("now", {})]])
    events = await sse_events(
        emu,
        {
            "model": MODEL,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "time?"}],
            "tools": [DIRECT],
        },
    )
    start, fragments = block_events(events, "tool_use")
    assert start["input"] == {} and fragments == [""]  # anthropic-sdk-java#295, #382


async def test_tool_blocks_can_start_without_input_as_the_docs_show(emu: AnthropicEmulator) -> None:
    """`tool_start_input = False`: the code-execution docs' streaming example. The SDK still
    accumulates the arguments from the fragments; a call without any has none to accumulate."""
    emu.tool_start_input = False
    emu.model = Script([[Python("rows = await thread_history({})\nprint(rows)")]])
    body = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "history?"}],
        "tools": [CODE_EXECUTION, ptc_tool("thread_history")],
    }
    events = await sse_events(emu, body)
    server, fragments = block_events(events, "server_tool_use")
    assert "input" not in server and json.loads("".join(fragments)) == {"code": server_code(emu)}
    call, call_fragments = block_events(events, "tool_use")
    assert "input" not in call and call_fragments == [""]
    final = emu.requests[-1].response
    assert final is not None and [b["input"] for b in final["content"] if b["type"] == "tool_use"] == [{}]
    # The SDK's own accumulator reads the same stream.
    emu.model = Script([[CallTool("now", {"tz": "UTC"})]])
    async with client(emu).beta.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "time?"}], tools=[DIRECT]
    ) as stream:
        message = await stream.get_final_message()
    assert message.content[0].type == "tool_use" and message.content[0].input == {"tz": "UTC"}


def server_code(emu: AnthropicEmulator) -> str:
    response = emu.requests[-1].response
    assert response is not None
    return str(next(b for b in response["content"] if b["type"] == "server_tool_use")["input"]["code"])
