"""Token counting: one documented approximation used everywhere (input, output, caching, limits).

Rule: **1 token per 4 characters, rounded up** (``ceil(len / 4)``), applied to

* the ``text`` of text blocks and system text (output text too, so a 200-token answer is 800 chars);
* every other block (tool definitions, tool_use / tool_result / server tool blocks, images,
  documents, container_upload …) as the length of its canonical JSON, ``cache_control`` removed;
* plus a fixed ``TOOL_USE_SYSTEM_PROMPT_TOKENS`` once per request that declares any tool, standing
  for the hidden tool-use system prompt the real API adds (346 tokens for ``tool_choice`` auto/none
  in Anthropic's pricing docs for Claude 4-era models).

The real tokenizer is not public; what matters for the tests and benchmarks is that the emulator is
consistent, so usage figures, the cache accounting and ``prompt is too long`` all agree.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
TOOL_USE_SYSTEM_PROMPT_TOKENS = 346

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def count_text(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): the identity of a prompt block for caching."""
    return _dumps(value)


def strip_cache_control(block: Any) -> Any:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def count_block(block: Any) -> int:
    """Tokens of one prompt block (message content block, system block or tool definition)."""
    if isinstance(block, str):
        return count_text(block)
    if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return count_text(block["text"])
    return count_text(canonical(strip_cache_control(block)))


def count_json(value: Any) -> int:
    """Output tokens of a generated tool input (the model 'writes' its JSON)."""
    return count_text(json.dumps(value, ensure_ascii=False))
