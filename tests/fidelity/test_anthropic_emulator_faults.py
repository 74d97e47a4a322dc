"""Fidelity of the failures issue 12 is about: an outage vs one container gone, a response that
breaks off after its code ran, deleted files named in a request, long retry-after values."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import anthropic
import pytest

from emulators.anthropic import AnthropicEmulator, Cut, Python, Say, Script
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool
from tests.fidelity.test_anthropic_emulator_visuals import pdf, png

TOOLS: list[Any] = [CODE_EXECUTION, ptc_tool("lookup")]


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def test_an_outage_fails_every_request_with_or_without_a_container(emu: AnthropicEmulator) -> None:
    emu.model = lambda req: [Python("x = 1"), Say("ok")]
    c = client(emu)
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("a"))
    cid = first.container.id
    emu.outage(status=500)
    variants: list[dict[str, Any]] = [{"container": cid}, {}]
    for kwargs in variants:
        with pytest.raises(anthropic.InternalServerError) as raised:
            await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("b"), **kwargs)
        assert raised.value.response.headers.get("x-should-retry") is None  # an SDK would retry it
    emu.outage(status=529)
    with pytest.raises(anthropic.OverloadedError):
        await c.beta.messages.create(model=MODEL, max_tokens=50, messages=ask("c"))
    emu.end_outage()
    emu.model = lambda req: [Python("print(x)"), Say("ok")]
    again: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("d"), container=cid
    )
    assert again.container.id == cid and again.content[1].content.stdout == "1\n"  # the REPL survived


async def test_an_expired_container_is_a_bare_500_only_for_requests_that_name_it(
    emu: AnthropicEmulator,
) -> None:
    emu.model = lambda req: [Say("ok")]
    c = client(emu, max_retries=2)
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("a"))
    cid = first.container.id
    emu.expire_container(cid)
    before = len(emu.requests)
    with pytest.raises(anthropic.InternalServerError) as raised:
        await c.beta.messages.create(
            model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("b"), container=cid
        )
    body: Any = raised.value.body
    assert body["error"] == {"type": "api_error", "message": "Internal server error"}  # names nothing
    # The recorded expiry 500 says not to retry it: the SDK gives up at once.
    assert raised.value.response.headers["x-should-retry"] == "false" and len(emu.requests) == before + 1
    # The same request without the container is answered: that is what tells expiry from an outage.
    fresh: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("c"))
    assert fresh.container.id != cid
    # An id that never existed is a 404, whatever the expiry mode.
    with pytest.raises(anthropic.NotFoundError):
        await c.beta.messages.create(
            model=MODEL, max_tokens=50, tools=TOOLS, messages=ask("d"), container="container_011Cnever"
        )


@pytest.mark.parametrize("mode", ["reset", "error"])
async def test_a_stream_cut_after_its_code_ran(emu: AnthropicEmulator, mode: Any) -> None:
    cut = Cut(mode, status=529)
    emu.model = Script(
        [
            [Python("n = 0"), Say("set")],
            [Say("Counting."), Python("n += 1\nprint(n)"), cut, Say("never sent")],
            [Python("print(n)"), Say("checked")],
        ]
    )
    c = client(emu)
    first: Any = await c.beta.messages.create(model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("a"))
    cid = first.container.id
    seen: list[str] = []

    async def consume() -> None:
        async with c.beta.messages.stream(
            model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("b"), container=cid
        ) as stream:
            async for event in stream:
                if event.type == "content_block_start":
                    seen.append(event.content_block.type)

    # A dropped connection, or `event: error` (the SDK raises APIStatusError for it, status 200).
    expected: type[Exception] = anthropic.APIConnectionError if mode == "reset" else anthropic.APIStatusError
    with pytest.raises(expected):
        await consume()
    # Everything up to the cut arrived, the code result included; nothing after it.
    assert seen == ["text", "server_tool_use", "code_execution_tool_result"]
    assert cut.fired == 1 and emu.validation_failures == []
    last: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=TOOLS, messages=ask("c"), container=cid
    )
    assert last.content[1].content.stdout == "1\n"  # the cut cell really ran, once


async def test_a_cut_fires_only_its_number_of_times(emu: AnthropicEmulator) -> None:
    cut = Cut("error")
    emu.model = lambda req: [Say("before"), cut, Say("after")]
    c = client(emu)
    with pytest.raises(anthropic.InternalServerError):
        await c.beta.messages.create(model=MODEL, max_tokens=50, messages=ask("a"))
    again: Any = await c.beta.messages.create(model=MODEL, max_tokens=50, messages=ask("a"))
    assert [b.text for b in again.content] == ["before", "after"]


@pytest.mark.parametrize("kind", ["image", "document", "container_upload"])
async def test_a_deleted_file_cannot_be_named(emu: AnthropicEmulator, kind: str) -> None:
    c = client(emu)
    # Real files: the emulator decodes images and counts PDF pages, as the API does.
    data = (png(4, 4), "image/png") if kind == "image" else (pdf(1), "application/pdf")
    uploaded = await c.files.upload(file=("f", data[0], data[1]))
    source = {"type": "file", "file_id": uploaded.id}
    block: Any = (
        {"type": "container_upload", "file_id": uploaded.id}
        if kind == "container_upload"
        else {"type": kind, "source": source}
    )
    content: Any = [block, {"type": "text", "text": "look"}]
    tools: Any = TOOLS if kind == "container_upload" else []
    await c.beta.messages.create(
        model=MODEL, max_tokens=20, tools=tools, messages=[{"role": "user", "content": content}]
    )
    await c.files.delete(uploaded.id)
    with pytest.raises(anthropic.BadRequestError) as raised:
        await c.beta.messages.create(
            model=MODEL, max_tokens=20, tools=tools, messages=[{"role": "user", "content": content}]
        )
    assert uploaded.id in raised.value.message


async def test_retry_after_as_an_http_date(emu: AnthropicEmulator) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    emu.fail_next(status=429, times=1, retry_after=when)
    with pytest.raises(anthropic.RateLimitError) as raised:
        await client(emu).beta.messages.create(model=MODEL, max_tokens=5, messages=ask("a"))
    assert raised.value.response.headers["retry-after"] == when
