"""Web search and web fetch through the real SDK: the documented blocks, citations (also as
`citations_delta` in a stream), domain filters, usage counters, and results that must come back
unchanged."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from emulators.anthropic import AnthropicEmulator, Cite, PauseTurn, Say, Script, WebFetch, WebSearch
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client

SEARCH: dict[str, Any] = {"type": "web_search_20260318", "name": "web_search"}
FETCH: dict[str, Any] = {"type": "web_fetch_20260318", "name": "web_fetch"}


def tool(base: dict[str, Any], **fields: Any) -> Any:
    """A web tool definition with domain lists (typed `Any` for the SDK's TypedDict unions)."""
    return {**base, **fields}


def add_pages(emu: AnthropicEmulator) -> None:
    emu.web.add("https://www.ecb.europa.eu/rates", "ECB key interest rates", "The ECB deposit rate is 2.00%.")
    emu.web.add("https://blog.example.com/ecb", "ECB rates explained", "A blog on the ECB deposit rate.")
    emu.web.add("https://news.example.org/other", "Other news", "Nothing about rates here.")


async def test_search_then_cite_streams_the_documented_blocks(emu: AnthropicEmulator) -> None:
    add_pages(emu)
    emu.model = Script(
        [
            [
                WebSearch("ECB deposit rate"),
                Cite("The deposit rate is 2.00%.", "https://www.ecb.europa.eu/rates"),
            ]
        ]
    )
    async with client(emu) as c:
        stream = c.beta.messages.stream(
            model=MODEL,
            max_tokens=1000,
            tools=[CODE_EXECUTION, tool(SEARCH)],
            messages=[{"role": "user", "content": "What is the ECB deposit rate?"}],
        )
        async with stream as s:
            citations: list[Any] = [e.citation for e in [ev async for ev in s] if e.type == "citation"]
            final = await s.get_final_message()
    use, result, text = final.content
    assert use.type == "server_tool_use" and use.name == "web_search"
    assert use.input == {"query": "ECB deposit rate"}
    assert result.type == "web_search_tool_result" and isinstance(result.content, list)
    assert [r.url for r in result.content] == [
        "https://www.ecb.europa.eu/rates",
        "https://blog.example.com/ecb",
    ]
    assert all(r.encrypted_content for r in result.content)
    assert text.type == "text" and text.citations is not None
    cited = text.citations[0]
    assert cited.type == "web_search_result_location" and cited.url == "https://www.ecb.europa.eu/rates"
    assert [c.url for c in citations] == ["https://www.ecb.europa.eu/rates"]
    assert final.usage.server_tool_use is not None and final.usage.server_tool_use.web_search_requests == 1


async def test_blocked_domains_never_appear_and_both_lists_are_refused(emu: AnthropicEmulator) -> None:
    add_pages(emu)
    emu.model = Script([[WebSearch("ECB deposit rate"), Say("done")]])
    async with client(emu) as c:
        message = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            tools=[CODE_EXECUTION, tool(SEARCH, blocked_domains=["example.com"])],
            messages=[{"role": "user", "content": "rates?"}],
        )
        result = message.content[1]
        assert result.type == "web_search_tool_result" and isinstance(result.content, list)
        assert [r.url for r in result.content] == ["https://www.ecb.europa.eu/rates"]
        with pytest.raises(anthropic.BadRequestError, match="cannot be used together"):
            await c.beta.messages.create(
                model=MODEL,
                max_tokens=1000,
                tools=[tool(SEARCH, allowed_domains=["ecb.europa.eu"], blocked_domains=["example.com"])],
                messages=[{"role": "user", "content": "rates?"}],
            )
        with pytest.raises(anthropic.BadRequestError, match="scheme"):
            await c.beta.messages.create(
                model=MODEL,
                max_tokens=1000,
                tools=[tool(SEARCH, allowed_domains=["https://ecb.europa.eu"])],
                messages=[{"role": "user", "content": "rates?"}],
            )


async def test_fetch_reads_pages_from_the_conversation_only(emu: AnthropicEmulator) -> None:
    add_pages(emu)
    emu.model = Script(
        [[WebFetch("https://www.ecb.europa.eu/rates"), WebFetch("https://news.example.org/other"), Say("ok")]]
    )
    async with client(emu) as c:
        message = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            tools=[CODE_EXECUTION, tool(FETCH, allowed_domains=["europa.eu"])],
            messages=[{"role": "user", "content": "Read https://www.ecb.europa.eu/rates please"}],
        )
    fetched, refused = message.content[1], message.content[3]
    assert fetched.type == "web_fetch_tool_result" and fetched.content.type == "web_fetch_result"
    assert fetched.content.content.source.data == "The ECB deposit rate is 2.00%."
    assert refused.type == "web_fetch_tool_result" and refused.content.type == "web_fetch_tool_result_error"
    assert refused.content.error_code == "url_not_in_prior_context"
    assert message.usage.server_tool_use is not None and message.usage.server_tool_use.web_fetch_requests == 1


async def test_results_must_come_back_unchanged(emu: AnthropicEmulator) -> None:
    add_pages(emu)
    emu.model = Script([[WebSearch("ECB deposit rate"), Say("2%")], [Say("again")], [Say("x")]])
    async with client(emu) as c:
        first = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            tools=[tool(SEARCH)],
            messages=[{"role": "user", "content": "rates?"}],
        )
        history: list[Any] = [
            {"role": "user", "content": "rates?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": "and now?"},
        ]
        again = await c.beta.messages.create(
            model=MODEL, max_tokens=1000, tools=[tool(SEARCH)], messages=history
        )
        assert again.content[0].type == "text"
        history[1]["content"][1]["content"][0]["encrypted_content"] = "Zm9yZ2Vk"
        with pytest.raises(anthropic.BadRequestError, match="could not be decrypted"):
            await c.beta.messages.create(model=MODEL, max_tokens=1000, tools=[tool(SEARCH)], messages=history)


async def test_a_turn_paused_on_a_search_runs_it_on_continuation(emu: AnthropicEmulator) -> None:
    add_pages(emu)
    emu.model = Script([[PauseTurn(dangling=WebSearch("ECB deposit rate")), Say("found it")]])
    messages: list[Any] = [{"role": "user", "content": "rates?"}]
    async with client(emu) as c:
        paused = await c.beta.messages.create(
            model=MODEL, max_tokens=1000, tools=[tool(SEARCH)], messages=messages
        )
        assert paused.stop_reason == "pause_turn" and paused.content[-1].type == "server_tool_use"
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in paused.content]}
        )
        done = await c.beta.messages.create(
            model=MODEL, max_tokens=1000, tools=[tool(SEARCH)], messages=messages
        )
    assert [b.type for b in done.content] == ["web_search_tool_result", "text"]
    result: Any = done.content[0]
    assert result.tool_use_id == paused.content[-1].id
