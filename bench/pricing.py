"""What a thread's requests are billed, from their usage, and what they would be billed under another
cache TTL (pure: usage dicts and request bodies in, figures out).

Prices (https://platform.claude.com/docs/en/about-claude/pricing, "Prompt caching"): a 5-minute cache
write costs 1.25 times the model's base input price, a 1-hour write 2 times, a cache read (hit or
refresh) 0.1 times; output tokens have their own price. The dollar figures use Claude Sonnet 4.5's
$3 per million input tokens and $15 per million output tokens from the same page; the comparison
between TTLs holds for any model, since every price is a multiple of its base input price.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.governance.pricing import ModelPrices, response_cost_micros, usage_from_api
from emulators.anthropic.caching import PromptCache
from emulators.anthropic.messages import parse

# The product's own price arithmetic (bot/governance/pricing.py), at Claude Sonnet 4.5's rates.
PRICES = ModelPrices.standard(3.0, 15.0)


def cost_usd(usage: Mapping[str, Any]) -> float:
    """The billed cost of one response's usage (the Messages API's `usage` object)."""
    return response_cost_micros(PRICES, usage_from_api(usage)) / 1_000_000


@dataclass(frozen=True)
class Sent:
    """A request as the bot sent it, with when (seconds from the thread's start) and what came back."""

    body: dict[str, Any]
    at: float
    output_tokens: int
    turn: int = 0


def with_ttl(body: dict[str, Any], ttl: str | Sequence[str]) -> dict[str, Any]:
    """The same request with its cache breakpoints set to `ttl`: one TTL for all, or one per
    breakpoint in prompt order (tools, system, messages; the last one repeats)."""
    out = copy.deepcopy(body)
    ttls = [ttl] if isinstance(ttl, str) else list(ttl)
    seen = 0

    def mark(blocks: Iterable[Any]) -> None:
        nonlocal seen
        for block in blocks:
            if isinstance(block, dict) and block.get("cache_control"):
                block["cache_control"] = {"type": "ephemeral", "ttl": ttls[min(seen, len(ttls) - 1)]}
                seen += 1

    mark(out.get("tools") or [])
    if isinstance(out.get("system"), list):
        mark(out["system"])
    for message in out["messages"]:
        if isinstance(message["content"], list):
            mark(message["content"])
    return out


def replay(
    requests: Sequence[Sent], ttl: str | Callable[[Sent], Sequence[str]], *, min_cacheable_tokens: int
) -> list[dict[str, Any]]:
    """The usage each request would get with its breakpoints at `ttl` (or at the TTLs `ttl(request)`
    gives, see `with_ttl`), by the emulator's cache accounting (the documented rules), at the times
    given."""
    cache = PromptCache(min_cacheable_tokens)
    usages = []
    for sent in requests:
        ttls = ttl if isinstance(ttl, str) else ttl(sent)
        parsed = parse(with_ttl(sent.body, ttls), api_version="2023-06-01", file_exists=lambda _: True)
        prompt = cache.account(parsed, "bench", now=sent.at)
        usages.append(
            {
                "input_tokens": prompt.input_tokens,
                "cache_read_input_tokens": prompt.cache_read_input_tokens,
                "cache_creation_input_tokens": prompt.cache_creation_input_tokens,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": prompt.ephemeral_5m_input_tokens,
                    "ephemeral_1h_input_tokens": prompt.ephemeral_1h_input_tokens,
                },
                "output_tokens": sent.output_tokens,
            }
        )
    return usages
