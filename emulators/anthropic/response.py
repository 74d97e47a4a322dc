"""Message bodies and usage objects in the recorded shapes (reference §3.3, §7)."""

from __future__ import annotations

from typing import Any

from .caching import PromptUsage


def usage_body(
    prompt: PromptUsage, output_tokens: int, inference_geo: str, web_search: int = 0, web_fetch: int = 0
) -> dict[str, Any]:
    """``usage`` as recorded for code-execution turns: ``cache_creation`` breakdown,
    ``server_tool_use`` with only the two web counters (no ``code_execution_requests``: neither the
    SDK nor recorded traffic has it), ``service_tier`` and ``inference_geo``. The web counters count
    the searches and fetches that ran (an errored one is not billed: web search tool page)."""
    return {
        "cache_creation": {
            "ephemeral_1h_input_tokens": prompt.ephemeral_1h_input_tokens,
            "ephemeral_5m_input_tokens": prompt.ephemeral_5m_input_tokens,
        },
        "cache_creation_input_tokens": prompt.cache_creation_input_tokens,
        "cache_read_input_tokens": prompt.cache_read_input_tokens,
        "inference_geo": inference_geo,
        "input_tokens": prompt.input_tokens,
        "output_tokens": output_tokens,
        "server_tool_use": {"web_fetch_requests": web_fetch, "web_search_requests": web_search},
        "service_tier": "standard",
    }


def start_usage(full: dict[str, Any]) -> dict[str, Any]:
    """``message_start`` usage: everything but ``server_tool_use``, one output token so far."""
    usage = {k: v for k, v in full.items() if k != "server_tool_use"}
    usage["output_tokens"] = 1
    return usage


def delta_usage(full: dict[str, Any]) -> dict[str, Any]:
    """``message_delta`` usage: cumulative totals that overwrite the ``message_start`` figures."""
    return {
        "input_tokens": full["input_tokens"],
        "cache_creation_input_tokens": full["cache_creation_input_tokens"],
        "cache_read_input_tokens": full["cache_read_input_tokens"],
        "output_tokens": full["output_tokens"],
        "server_tool_use": full["server_tool_use"],
    }


def message_skeleton(msg_id: str, model: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "stop_details": None,
    }
