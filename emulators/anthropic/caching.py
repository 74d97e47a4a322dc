"""Prompt-cache accounting: which input tokens are billed as cache reads, writes, or plain input.

The model of Anthropic's documented rules (prompt caching guide):

* The prompt is the sequence of blocks **tools → system → messages** (each tool definition, each
  system text block, each message content block; string content is one text block).
* A prefix's identity is the exact canonical JSON of every block up to it (``cache_control``
  excluded, role boundaries included), per API key and model: changing a tool invalidates every
  entry, changing message 3 invalidates every prefix that includes it.
* Breakpoints are the blocks carrying ``cache_control`` plus, when the top-level ``cache_control``
  is set (automatic caching), the last block. At most 4 (the validator rejects more).
* Lookup: for each breakpoint the cache is checked at that block and at up to 20 block boundaries
  before it; the longest prefix found anywhere is the hit (its TTL is refreshed).
* Write: every breakpoint after the hit whose prefix is at least ``min_tokens`` long is stored,
  with the breakpoint's TTL (``5m`` default or ``1h``). Shorter prefixes are not cached.
* Usage: ``cache_read_input_tokens`` = the hit prefix; ``cache_creation_input_tokens`` = tokens from
  the hit to the last stored breakpoint (split into ``ephemeral_5m``/``ephemeral_1h`` by the TTL of
  the breakpoint closing each segment); ``input_tokens`` = everything after that.

Entries become usable as soon as the request writing them is accepted (the real API makes them
usable once the response starts, which is indistinguishable here).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from .messages import ParsedRequest
from .tokens import TOOL_USE_SYSTEM_PROMPT_TOKENS, canonical, count_block, strip_cache_control

LOOKBACK_BLOCKS = 20
DEFAULT_MIN_CACHEABLE_TOKENS = 1024
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class PromptUsage:
    total_tokens: int
    input_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class PromptTooLong(Exception):
    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"prompt is too long: {tokens} tokens > {limit} maximum")
        self.tokens = tokens
        self.limit = limit


@dataclass
class _Entry:
    ttl: str
    expires_at: float


@dataclass(frozen=True)
class _Block:
    digest: bytes
    cumulative: int
    ttl: str | None
    """TTL if this block is a breakpoint."""


def prompt_blocks(parsed: ParsedRequest) -> list[tuple[str, dict[str, Any]]]:
    """The prompt in cache order, each block tagged with what it belongs to."""
    out: list[tuple[str, dict[str, Any]]] = [("tool", t) for t in parsed.tools]
    out += [("system", b) for b in parsed.system_blocks]
    for msg in parsed.messages:
        first = True
        for b in msg["content"]:
            out.append((f"{msg['role']}{'>' if first else ''}", b))
            first = False
    return out


def programmatic_results(parsed: ParsedRequest) -> set[str]:
    """Ids of the tool calls made by sandbox code: their results go back to the code, not into
    Claude's context, and "do not count as tokens; only final code output does" (programmatic tool
    calling docs, "Token efficiency"; reference §4)."""
    return {
        str(b.get("id"))
        for msg in parsed.messages
        if msg["role"] == "assistant"
        for b in msg["content"]
        if b.get("type") == "tool_use"
        and str((b.get("caller") or {}).get("type", "")).startswith("code_execution")
    }


def block_tokens(block: dict[str, Any], programmatic: set[str]) -> int:
    if block.get("type") == "tool_result" and block.get("tool_use_id") in programmatic:
        return 0
    return count_block(block)


def count_prompt(parsed: ParsedRequest) -> int:
    total = TOOL_USE_SYSTEM_PROMPT_TOKENS if parsed.tools else 0
    programmatic = programmatic_results(parsed)
    return total + sum(block_tokens(b, programmatic) for _, b in prompt_blocks(parsed))


class PromptCache:
    def __init__(self, min_tokens: int = DEFAULT_MIN_CACHEABLE_TOKENS) -> None:
        self.min_tokens = min_tokens
        self._entries: dict[tuple[str, str, bytes], _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def _chain(self, parsed: ParsedRequest) -> list[_Block]:
        blocks = prompt_blocks(parsed)
        auto = parsed.body.get("cache_control")
        hasher = hashlib.sha256()
        cumulative = TOOL_USE_SYSTEM_PROMPT_TOKENS if parsed.tools else 0
        programmatic = programmatic_results(parsed)
        chain: list[_Block] = []
        for n, (tag, block) in enumerate(blocks):
            hasher.update(b"\x1e" + tag.encode() + b"\x1f" + canonical(strip_cache_control(block)).encode())
            cumulative += block_tokens(block, programmatic)
            control = block.get("cache_control") or (auto if n == len(blocks) - 1 else None)
            ttl = control.get("ttl", "5m") if control else None
            chain.append(_Block(hasher.copy().digest(), cumulative, ttl))
        return chain

    def account(
        self, parsed: ParsedRequest, namespace: str, *, limit: int | None = None, now: float | None = None
    ) -> PromptUsage:
        """Usage of this request's prompt, updating the cache as the API would. Raises
        ``PromptTooLong`` (before touching the cache) when the prompt exceeds ``limit`` tokens."""
        now = time.time() if now is None else now
        chain = self._chain(parsed)
        total = chain[-1].cumulative if chain else 0
        if limit is not None and total > limit:
            raise PromptTooLong(total, limit)
        breakpoints = [i for i, b in enumerate(chain) if b.ttl is not None]
        if not breakpoints:
            return PromptUsage(total, total)

        def key(i: int) -> tuple[str, str, bytes]:
            return (namespace, parsed.model, chain[i].digest)

        hit = -1
        for bp in breakpoints:
            for i in range(bp, max(-1, bp - LOOKBACK_BLOCKS - 1), -1):
                if i <= hit:
                    break
                entry = self._entries.get(key(i))
                if entry is not None and entry.expires_at > now:
                    hit = i
                    break
        if hit >= 0:
            entry = self._entries[key(hit)]
            entry.expires_at = now + TTL_SECONDS[entry.ttl]
        read = chain[hit].cumulative if hit >= 0 else 0

        created = {"5m": 0, "1h": 0}
        covered = read
        for bp in breakpoints:
            if bp <= hit or chain[bp].cumulative < self.min_tokens:
                continue
            ttl = chain[bp].ttl or "5m"
            created[ttl] += chain[bp].cumulative - covered
            covered = chain[bp].cumulative
            self._entries[key(bp)] = _Entry(ttl, now + TTL_SECONDS[ttl])
        if len(self._entries) > 50_000:
            self._prune(now)
        creation = created["5m"] + created["1h"]
        return PromptUsage(
            total_tokens=total,
            input_tokens=total - read - creation,
            cache_read_input_tokens=read,
            cache_creation_input_tokens=creation,
            ephemeral_5m_input_tokens=created["5m"],
            ephemeral_1h_input_tokens=created["1h"],
        )

    def _prune(self, now: float) -> None:
        self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
