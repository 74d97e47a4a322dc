"""Fidelity of the emulated Messages API: bodies, SSE, validation errors, faults, latency.

Every test drives the emulator with the real ``anthropic`` SDK (or raw HTTP where the SDK would
hide what is checked) and ends with ``emu.validation_failures == []``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import aiohttp
import anthropic
import pytest

from emulators.anthropic import (
    AnthropicEmulator,
    Bash,
    ByText,
    Delay,
    Latency,
    Python,
    Say,
    Script,
    Step,
    Stop,
)
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool

ID = re.compile(r"^(msg|srvtoolu|toolu)_01[1-9A-HJ-NP-Za-km-z]{22}$")
LONG_ID = re.compile(r"^(container|file|req)_011C[1-9A-HJ-NP-Za-km-z]{20}$")
USER: Any = [{"role": "user", "content": "hello there"}]
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}


async def raw_post(
    emu: AnthropicEmulator, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{emu.base_url}/v1/messages", json=body, headers=headers or HEADERS) as r,
    ):
        text = await r.text()
        return r.status, (json.loads(text) if r.content_type == "application/json" else text)


async def raw_sse(emu: AnthropicEmulator, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs exactly as sent, pings included."""
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{emu.base_url}/v1/messages?beta=true", json={**body, "stream": True}, headers=HEADERS) as r,
    ):
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = (await r.read()).decode()
    events = []
    for chunk in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_beta_and_ga_create_bodies(emu: AnthropicEmulator) -> None:
    c = client(emu)
    beta: Any = await c.beta.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert ID.match(beta.id) and beta.content[0].type == "text"
    assert beta.content[0].text == "You said: hello there"
    assert beta.stop_reason == "end_turn" and beta.stop_details is None and beta.container is None
    assert beta.usage.server_tool_use is not None and beta.usage.service_tier == "standard"
    assert beta.usage.cache_creation is not None and beta.usage.inference_geo == "global"
    ga: Any = await c.messages.create(model=MODEL, max_tokens=64, messages=USER, tools=[CODE_EXECUTION])
    assert ga.container is not None and LONG_ID.match(ga.container.id)
    assert ga.container.expires_at.timestamp() == pytest.approx(time.time() + 3600, abs=60)
    record = emu.requests[-1]
    assert record.container_id == ga.container.id and record.response is not None
    assert LONG_ID.match(record.request_id)


async def test_sse_event_sequence_matches_recorded_traffic(emu: AnthropicEmulator) -> None:
    emu.model = Script([[Say("Let me check."), Bash("echo hi"), Say("Done.")]])
    events = await raw_sse(
        emu, {"model": MODEL, "max_tokens": 500, "messages": USER, "tools": [CODE_EXECUTION]}
    )
    names = [e for e, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names[1:3] == ["content_block_start", "ping"]
    for name, data in events:
        assert data["type"] == name
    start = events[0][1]["message"]
    assert "container" not in start and start["content"] == [] and start["stop_reason"] is None
    assert {"input_tokens", "cache_creation", "service_tier", "inference_geo"} <= set(start["usage"])
    starts = [d for e, d in events if e == "content_block_start"]
    assert [b["content_block"]["type"] for b in starts] == [
        "text",
        "server_tool_use",
        "bash_code_execution_tool_result",
        "text",
    ]
    assert starts[1]["content_block"]["input"] == {}
    assert starts[2]["content_block"]["content"]["stdout"] == "hi\n"  # result blocks arrive whole
    tool_deltas = [d["delta"] for e, d in events if e == "content_block_delta" and d["index"] == 1]
    assert tool_deltas[0] == {"type": "input_json_delta", "partial_json": ""}
    assert json.loads("".join(d["partial_json"] for d in tool_deltas)) == {"command": "echo hi"}
    text = "".join(
        d["delta"]["text"]
        for e, d in events
        if e == "content_block_delta" and d["delta"]["type"] == "text_delta"
    )
    assert text == "Let me check.Done."
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["delta"]["container"]["id"].startswith(
        "container_"
    )
    assert set(delta["usage"]) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
        "server_tool_use",
    }


async def test_stream_helpers_accumulate_to_the_emitted_body(emu: AnthropicEmulator) -> None:
    turn: list[Step] = [Say("Computing " * 20), Python("print(6 * 7)"), Say("The answer is 42.")]
    emu.model = Script([turn, turn, turn])
    tools = [CODE_EXECUTION, ptc_tool("lookup")]
    c = client(emu)
    async with c.beta.messages.stream(model=MODEL, max_tokens=900, messages=USER, tools=tools) as stream:
        kinds = {ev.type async for ev in stream}
        final = await stream.get_final_message()
    assert {"text", "content_block_delta", "input_json", "message_stop"} <= kinds
    dumped = final.model_dump(mode="json", exclude_unset=True)
    for block in dumped["content"]:
        block.pop("parsed_output", None)
    assert dumped == emu.requests[-1].response
    raw: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=900, messages=USER, tools=tools, stream=True
    )
    types = [ev.type async for ev in raw]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    async with c.messages.stream(model=MODEL, max_tokens=900, messages=USER, tools=tools) as ga:
        ga_final = await ga.get_final_message()
    assert ga_final.container is not None and ga_final.content[2].type == "code_execution_tool_result"


async def test_authentication_and_versions(emu: AnthropicEmulator) -> None:
    bad = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as exc:
        await bad.beta.messages.create(model=MODEL, max_tokens=16, messages=USER)
    assert exc.value.type == "authentication_error"
    body = {"model": MODEL, "max_tokens": 16, "messages": USER}
    assert (await raw_post(emu, body))[0] == 200  # x-api-key + 2023-06-01
    bearer = {**HEADERS, "authorization": "Bearer sk-ant-test"}
    del bearer["x-api-key"]
    assert (await raw_post(emu, body, {**bearer, "anthropic-version": "2026-10-21"}))[0] == 200
    status, err = await raw_post(emu, body, {**HEADERS, "anthropic-version": "2099-01-01"})
    assert status == 400 and err["error"]["message"].startswith("anthropic-version")
    assert (await raw_post(emu, {**body, "temperature": 0.5}))[0] == 200
    status, err = await raw_post(
        emu, {**body, "temperature": 0.5}, {**HEADERS, "anthropic-version": "2026-10-21"}
    )
    assert status == 400 and "temperature" in err["error"]["message"]
    assert err["request_id"].startswith("req_")


BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing model", {"max_tokens": 5, "messages": USER}, 400, "model: Field required"),
    ("missing max_tokens", {"model": MODEL, "messages": USER}, 400, "max_tokens: Field required"),
    ("missing messages", {"model": MODEL, "max_tokens": 5}, 400, "messages: Field required"),
    ("extra field", {"model": MODEL, "max_tokens": 5, "messages": USER, "foo": 1}, 400, "foo: Extra inputs"),
    ("unknown model", {"model": "claude-nope", "max_tokens": 5, "messages": USER}, 404, "model: claude-nope"),
    (
        "assistant first",
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "assistant", "content": "hi"}]},
        400,
        'first message must use the "user" role',
    ),
    (
        "unknown block",
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "bogus"}]}]},
        400,
        "Input tag 'bogus' found using 'type'",
    ),
    (
        "orphan tool_result",
        {
            "model": MODEL,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]}],
        },
        400,
        "unexpected `tool_use_id` found in `tool_result` blocks: toolu_x",
    ),
    (
        "tool_use without result",
        {
            "model": MODEL,
            "max_tokens": 5,
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_a", "name": "t", "input": {}}],
                },
                {"role": "user", "content": "and?"},
            ],
        },
        400,
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_a",
    ),
    (
        "extra key in a block",
        {
            "model": MODEL,
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi", "parsed_output": None}]}
            ],
        },
        400,
        "messages.0.content.0.text.parsed_output: Extra inputs are not permitted",
    ),
    (
        "container object without skills",
        {"model": MODEL, "max_tokens": 5, "messages": USER, "container": {"id": "container_x"}},
        400,
        "container: Input should be a valid string",
    ),
    (
        "duplicate tool names",
        {"model": MODEL, "max_tokens": 5, "messages": USER, "tools": [CODE_EXECUTION, CODE_EXECUTION]},
        400,
        "Tool names must be unique",
    ),
    (
        "five breakpoints",
        {
            "model": MODEL,
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"p{i}", "cache_control": {"type": "ephemeral"}}
                        for i in range(5)
                    ],
                }
            ],
        },
        400,
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    (
        "server tool use left open before text",
        {
            "model": MODEL,
            "max_tokens": 5,
            "tools": [CODE_EXECUTION],
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "server_tool_use",
                            "id": "srvtoolu_a",
                            "name": "bash_code_execution",
                            "input": {},
                        }
                    ],
                },
                {"role": "user", "content": "more"},
            ],
        },
        400,
        "`bash_code_execution` tool use with id `srvtoolu_a` was found without a corresponding "
        "`bash_code_execution_tool_result` block",
    ),
    (
        "max_tokens too large",
        {"model": MODEL, "max_tokens": 10**7, "messages": USER},
        400,
        "which is the maximum allowed number of output tokens",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_request_validation(
    emu: AnthropicEmulator, name: str, body: dict[str, Any], status: int, message: str
) -> None:
    got_status, err = await raw_post(emu, body)
    assert got_status == status, err
    assert err["type"] == "error" and message in err["error"]["message"]
    assert err["error"]["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


OBJECT_CONTAINER: Any = {"id": "container_x"}
THREAD: Any = {"type": "create"}


async def test_typed_sdk_errors(emu: AnthropicEmulator) -> None:
    c = client(emu)
    with pytest.raises(anthropic.NotFoundError):
        await c.messages.create(model="claude-unknown-1", max_tokens=5, messages=USER)
    with pytest.raises(anthropic.BadRequestError) as exc:
        await c.beta.messages.create(model=MODEL, max_tokens=5, messages=USER, container=OBJECT_CONTAINER)
    assert exc.value.api_message == "container: Input should be a valid string"
    with pytest.raises(anthropic.BadRequestError) as exc:
        await c.beta.messages.create(model=MODEL, max_tokens=5, messages=USER, thread=THREAD)
    assert exc.value.error_code == "thread_unsupported_request"
    assert type(exc.value).__name__ == "ThreadUnsupportedRequestError"


async def test_models_endpoints(emu: AnthropicEmulator) -> None:
    c = client(emu)
    info = await c.models.retrieve(MODEL)
    assert info.id == MODEL and info.type == "model" and info.max_input_tokens == emu.context_window
    page = await c.models.list(limit=3)
    assert len(page.data) == 3 and page.has_more
    ids = [m.id async for m in c.models.list(limit=5)]
    assert MODEL in ids and len(ids) == len(set(ids))
    with pytest.raises(anthropic.NotFoundError):
        await c.models.retrieve("claude-unknown-1")


async def test_count_tokens_uses_the_same_counting(emu: AnthropicEmulator) -> None:
    c = client(emu)
    text = "x" * 400  # 100 tokens
    counted = await c.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": text}])
    assert counted.input_tokens == 100
    reply: Any = await c.messages.create(
        model=MODEL, max_tokens=500, messages=[{"role": "user", "content": text}]
    )
    assert reply.usage.input_tokens == 100
    assert reply.usage.output_tokens == -(-len(reply.content[0].text) // 4)


@pytest.mark.parametrize(
    ("status", "error_cls", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.ServiceUnavailableError, "api_error"),
    ],
)
async def test_injected_failures_are_typed(
    emu: AnthropicEmulator, status: int, error_cls: type[Exception], error_type: str
) -> None:
    emu.fail_next(status=status)
    with pytest.raises(error_cls) as exc:
        await client(emu).beta.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert isinstance(exc.value, anthropic.APIStatusError)
    assert exc.value.status_code == status and exc.value.type == error_type
    assert emu.requests[-1].error is not None and emu.requests[-1].status == status


async def test_sdk_retries_honour_retry_after(emu: AnthropicEmulator) -> None:
    # 1.5 s each: longer than the SDK's own backoff for two retries (under 0.5 s and 1 s).
    emu.fail_next(status=429, times=2, retry_after=1.5)
    started = time.monotonic()
    reply: Any = await client(emu, max_retries=2).beta.messages.create(
        model=MODEL, max_tokens=16, messages=USER
    )
    elapsed = time.monotonic() - started
    assert reply.stop_reason == "end_turn" and len(emu.requests) == 3
    assert elapsed >= 3.0  # two waits of retry-after, not the SDK's own backoff
    assert [r.status for r in emu.requests] == [429, 429, 200]


async def test_mid_stream_failure_is_an_error_event(emu: AnthropicEmulator) -> None:
    emu.latency = Latency(first_token_s=0.0, tokens_per_s=200, delta_interval_s=0.02)
    emu.model = Script([[Say("word " * 200)]])
    emu.fail_next(status=529, after_s=0.3)
    c = client(emu)
    got: list[str] = []

    async def consume() -> None:
        async with c.beta.messages.stream(model=MODEL, max_tokens=500, messages=USER) as stream:
            async for text in stream.text_stream:
                got.append(text)

    with pytest.raises(anthropic.APIStatusError) as exc:
        await consume()
    assert got, "some text arrived before the failure"
    assert isinstance(exc.value.body, dict) and exc.value.body["error"]["type"] == "overloaded_error"
    assert emu.requests[-1].error == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


async def test_slow_next_causes_client_timeouts(emu: AnthropicEmulator) -> None:
    emu.slow_next(1.5)
    with pytest.raises(anthropic.APITimeoutError):
        await client(emu, timeout=0.3).beta.messages.create(model=MODEL, max_tokens=5, messages=USER)
    reply: Any = await client(emu).beta.messages.create(model=MODEL, max_tokens=16, messages=USER)
    assert reply.stop_reason == "end_turn"


async def test_max_tokens_truncates_text(emu: AnthropicEmulator) -> None:
    emu.model = Script([[Say("abcd" * 50), Say("never said")]])
    reply: Any = await client(emu).beta.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 5
    assert reply.content[0].text == "abcd" * 5


async def test_stop_reasons(emu: AnthropicEmulator) -> None:
    c = client(emu)
    emu.model = Script(
        [
            [Say("I can't help with that."), Stop("refusal", category="cyber", explanation="nope")],
            [Say("so much context"), Stop("model_context_window_exceeded")],
            [Say("alpha STOP beta")],
        ]
    )
    refusal: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert refusal.stop_reason == "refusal" and refusal.stop_details is not None
    assert refusal.stop_details.category == "cyber"
    full: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert full.stop_reason == "model_context_window_exceeded"
    seq: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=50, messages=USER, stop_sequences=["STOP"]
    )
    assert seq.stop_reason == "stop_sequence" and seq.stop_sequence == "STOP"
    assert seq.content[0].text == "alpha "


async def test_prompt_too_long(emu: AnthropicEmulator) -> None:
    emu.context_window = 1000
    with pytest.raises(anthropic.BadRequestError) as exc:
        await client(emu).beta.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "y" * 4004}]
        )
    assert exc.value.api_message == "prompt is too long: 1001 tokens > 1000 maximum"


async def test_latency_profile_paces_the_stream(emu: AnthropicEmulator) -> None:
    emu.latency = Latency(first_token_s=0.3, tokens_per_s=100, delta_interval_s=0.05)
    emu.model = Script([[Say("z" * 120)]])  # 30 tokens: 0.3 s first token + 0.3 s of tokens
    started = time.monotonic()
    stamps: list[float] = []
    async with client(emu).beta.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        async for _ in stream.text_stream:
            stamps.append(time.monotonic() - started)
    total = time.monotonic() - started
    record = emu.requests[-1]
    assert record.time_to_first_token == pytest.approx(0.3, abs=0.1)
    assert 0.55 <= total < 2.0  # paced: not all at once (and not stalled)
    assert 4 <= len(stamps) <= 8  # grouped into ~50 ms deltas, not one per token


async def test_concurrency_is_tracked_per_container(emu: AnthropicEmulator) -> None:
    emu.model = lambda req: [Bash("sleep 0.3"), Say("ok")]
    c = client(emu)
    first: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=50, messages=USER, tools=[CODE_EXECUTION]
    )
    assert first.container is not None
    cid = first.container.id
    await asyncio.gather(
        *(
            c.beta.messages.create(
                model=MODEL, max_tokens=50, messages=USER, tools=[CODE_EXECUTION], container=cid
            )
            for _ in range(2)
        )
    )
    assert emu.max_in_flight_per_container[cid] == 2 and emu.in_flight == 0 and emu.max_in_flight >= 2


async def test_two_emulators_in_one_process() -> None:
    async with AnthropicEmulator(api_key="k1") as a, AnthropicEmulator(api_key="k2") as b:
        assert a.base_url != b.base_url
        a.model = Script([[Say("from a")]])
        b.model = Script([[Say("from b")]])
        ra: Any = await client(a).beta.messages.create(model=MODEL, max_tokens=9, messages=USER)
        rb: Any = await client(b).beta.messages.create(model=MODEL, max_tokens=9, messages=USER)
        assert (ra.content[0].text, rb.content[0].text) == ("from a", "from b")
        assert len(a.requests) == len(b.requests) == 1
        assert a.validation_failures == b.validation_failures == []


async def test_pings_keep_long_work_alive_and_bytext_chooses(emu: AnthropicEmulator) -> None:
    emu.ping_interval_s = 0.1
    emu.model = ByText(
        {"slow": [Say("Working."), Bash("sleep 0.45"), Delay(0.25), Say("Done.")]},
        default=[Say("Quick.")],
    )
    events = await raw_sse(
        emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "a SLOW one"}],
            "tools": [CODE_EXECUTION],
        },
    )
    names = [name for name, _ in events]
    tool_start = names.index("content_block_start", names.index("content_block_start") + 1)
    result_start = names.index("content_block_start", tool_start + 1)
    assert names[tool_start:result_start].count("ping") >= 3  # ~0.45 s of bash at one ping per 0.1 s
    assert names[result_start:].count("ping") >= 1  # and during the Delay
    quick: Any = await client(emu).beta.messages.create(model=MODEL, max_tokens=20, messages=USER)
    assert quick.content[0].text == "Quick."
