"""Prompt-cache accounting: the documented rules, end to end and rule by rule."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from emulators.anthropic import AnthropicEmulator, Say, Script
from emulators.anthropic.caching import PromptCache
from emulators.anthropic.messages import parse
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client, ptc_tool

SYSTEM = "You are a data analyst working in a Slack thread. " * 120  # ~1,500 tokens
TOOLS: list[Any] = [CODE_EXECUTION, ptc_tool("lookup", "Look something up.")]
EPHEMERAL: Any = {"type": "ephemeral"}


async def test_three_turn_thread_reads_from_cache(emu: AnthropicEmulator) -> None:
    emu.model = lambda req: [Say(f"Answer {req.user_turns}: " + "details " * 60)]
    c = client(emu)
    messages: list[Any] = []
    usages = []
    for turn in range(3):
        messages.append({"role": "user", "content": f"question {turn} " + "context " * 40})
        reply: Any = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            system=[{"type": "text", "text": SYSTEM, "cache_control": EPHEMERAL}],
            tools=TOOLS,
            messages=messages,
            cache_control=EPHEMERAL,  # automatic caching: the last block is a breakpoint too
        )
        messages.append({"role": "assistant", "content": reply.content})
        usages.append(reply.usage)
    first, *later = usages
    assert first.cache_read_input_tokens == 0 and first.input_tokens == 0
    assert first.cache_creation_input_tokens > 1500
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    for u in later:
        total = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        assert (u.cache_read_input_tokens or 0) / total >= 0.8, u
    assert later[0].cache_read_input_tokens == (first.cache_creation_input_tokens or 0)


def request(
    messages: list[Any],
    *,
    tools: list[Any] | None = None,
    system: Any = None,
    auto: dict[str, Any] | None = None,
) -> Any:
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 10, "messages": messages}
    if tools is not None:
        body["tools"] = tools
    if system is not None:
        body["system"] = system
    if auto is not None:
        body["cache_control"] = auto
    return parse(body, api_version="2023-06-01", file_exists=lambda _: True)


def text(chars: int, mark: dict[str, Any] | None = None, tag: str = "") -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": (tag + "a" * chars)[:chars]}
    if mark:
        block["cache_control"] = mark
    return block


def test_minimum_length_and_exact_prefixes() -> None:
    cache = PromptCache(min_tokens=1024)
    short = request([{"role": "user", "content": [text(400, EPHEMERAL)]}])
    assert cache.account(short, "k").cache_creation_input_tokens == 0  # 100 tokens: not cached
    long_req = request([{"role": "user", "content": [text(8000, EPHEMERAL)]}])
    assert cache.account(long_req, "k").cache_creation_input_tokens == 2000
    assert cache.account(long_req, "k").cache_read_input_tokens == 2000
    assert cache.account(long_req, "other-key").cache_read_input_tokens == 0  # per API key
    changed = request([{"role": "user", "content": [text(8000, EPHEMERAL, tag="b")]}])
    assert cache.account(changed, "k").cache_read_input_tokens == 0  # one character differs


def test_changing_tools_invalidates_everything() -> None:
    cache = PromptCache()
    msgs = [{"role": "user", "content": [text(8000, EPHEMERAL)]}]
    cache.account(request(msgs, tools=[CODE_EXECUTION]), "k")
    assert cache.account(request(msgs, tools=[CODE_EXECUTION]), "k").cache_read_input_tokens > 2000
    other = request(msgs, tools=[CODE_EXECUTION, ptc_tool("new")])
    assert cache.account(other, "k").cache_read_input_tokens == 0


def test_lookback_is_twenty_blocks() -> None:
    cache = PromptCache()
    base = [{"role": "user", "content": [text(6000, EPHEMERAL)]}]
    cache.account(request(base), "k")
    near = [
        {
            "role": "user",
            "content": [text(6000), *[text(8, tag=str(i)) for i in range(19)], text(8, EPHEMERAL)],
        }
    ]
    assert cache.account(request(near), "k").cache_read_input_tokens == 1500  # hit 20 blocks back
    cache2 = PromptCache()
    cache2.account(request(base), "k")
    far = [
        {
            "role": "user",
            "content": [text(6000), *[text(8, tag=str(i)) for i in range(20)], text(8, EPHEMERAL)],
        }
    ]
    assert cache2.account(request(far), "k").cache_read_input_tokens == 0  # 21 blocks back: missed


def test_ttls_breakdown_and_expiry() -> None:
    cache = PromptCache()
    one_hour: Any = {"type": "ephemeral", "ttl": "1h"}
    req = request(
        [{"role": "user", "content": [text(4000), text(8000, EPHEMERAL)]}],
        system=[text(6000, one_hour)],
    )
    first = cache.account(req, "k", now=1000.0)
    assert (first.ephemeral_1h_input_tokens, first.ephemeral_5m_input_tokens) == (1500, 3000)
    later = cache.account(req, "k", now=1000.0 + 400)  # the 5-minute entry lapsed, the hour did not
    assert later.cache_read_input_tokens == 1500 and later.ephemeral_5m_input_tokens == 3000
    refreshed = cache.account(req, "k", now=1000.0 + 400 + 290)
    assert refreshed.cache_read_input_tokens == 4500


async def test_breakpoint_rules_are_enforced(emu: AnthropicEmulator) -> None:
    c = client(emu)
    with pytest.raises(anthropic.BadRequestError, match="must not come after"):
        await c.beta.messages.create(
            model=MODEL,
            max_tokens=5,
            system=[{"type": "text", "text": "s", "cache_control": EPHEMERAL}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "u", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
                    ],
                }
            ],
        )
    marked: Any = [{"type": "text", "text": f"b{i}", "cache_control": EPHEMERAL} for i in range(4)]
    unmarked_tail: Any = [*marked, {"type": "text", "text": "tail"}]
    with pytest.raises(anthropic.BadRequestError, match="Found 5"):  # automatic caching takes a 5th slot
        await c.beta.messages.create(
            model=MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": unmarked_tail}],
            cache_control=EPHEMERAL,
        )
    emu.model = Script([[Say("ok")]])
    ok: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": marked}]
    )
    assert ok.usage.cache_creation_input_tokens == 0  # tiny prompt: below the minimum


async def test_the_emulator_clock_lets_ttls_pass_without_waiting(emu: AnthropicEmulator) -> None:
    """Ten minutes between two requests: a `5m` entry is gone, a `1h` entry is read (and refreshed)."""
    emu.model = lambda req: [Say("ok")]
    c = client(emu)

    async def ask(ttl: str) -> Any:
        control: Any = {"type": "ephemeral", "ttl": ttl}
        reply: Any = await c.beta.messages.create(
            model=MODEL,
            max_tokens=10,
            system=[{"type": "text", "text": f"{ttl} " + SYSTEM, "cache_control": control}],
            messages=[{"role": "user", "content": "hi"}],
        )
        return reply.usage

    for ttl in ("5m", "1h"):
        await ask(ttl)
    emu.advance_clock(600)
    short, long = await ask("5m"), await ask("1h")
    assert short.cache_read_input_tokens == 0 and short.cache_creation_input_tokens > 1500
    assert long.cache_read_input_tokens > 1500 and long.cache_creation_input_tokens == 0
    emu.advance_clock(3000)  # 50 more minutes: read at 10 minutes, so still there
    assert (await ask("1h")).cache_read_input_tokens > 1500
