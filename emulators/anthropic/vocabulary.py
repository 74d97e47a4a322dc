"""Names the API accepts, read from the installed SDK's request types.

Reading them from ``anthropic.types.beta`` (rather than copying lists) keeps the emulator's
validation in step with what the SDK can send: a block or tool type the SDK knows is accepted, an
unknown one is a 400 like the real API's discriminator error.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from anthropic.types.beta import BetaContentBlockParam, BetaToolUnionParam
from anthropic.types.beta import beta_tool_result_block_param as _tool_result
from anthropic.types.beta import message_create_params as _create_params


def _type_literals(union: Any) -> tuple[str, ...]:
    out: list[str] = []
    for member in typing.get_args(union):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        annotation = getattr(member, "__annotations__", {}).get("type")
        if annotation is not None:
            out += re.findall(r"'([A-Za-z0-9_]+)'", str(annotation))
    return tuple(dict.fromkeys(out))


def _fields(typed_dict: Any) -> set[str]:
    keys: set[str] = set()
    for cls in typed_dict.__mro__:
        keys |= set(getattr(cls, "__annotations__", {}))
    return keys


def _block_fields(union: Any) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for member in typing.get_args(union):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        if not hasattr(member, "__mro__"):
            continue
        for literal in _type_literals(typing.Union[member, None]):  # noqa: UP007 - runtime union
            out[literal] = frozenset(_fields(member))
    return out


BLOCK_TYPES: tuple[str, ...] = _type_literals(BetaContentBlockParam)
BLOCK_FIELDS: dict[str, frozenset[str]] = _block_fields(BetaContentBlockParam)
"""Top-level keys each content block type accepts (the real API rejects others as extra inputs)."""
TOOL_RESULT_CONTENT_TYPES: tuple[str, ...] = _type_literals(_tool_result.Content)
TOOL_TYPES: tuple[str, ...] = tuple(t for t in _type_literals(BetaToolUnionParam) if t != "custom")

CODE_EXECUTION_TYPES = ("code_execution_20250825", "code_execution_20260120", "code_execution_20260521")
"""Code execution versions the emulator runs. ``code_execution_20250522`` (legacy, Python only, a
different result type) is accepted but not emulated."""
PTC_VERSIONS = ("code_execution_20260120", "code_execution_20260521")
"""Minimum versions for programmatic tool calling and the persistent REPL (reference §1, §4)."""
CODE_CALLERS = ("code_execution_20250825", "code_execution_20260120", "code_execution_20260521")
ALLOWED_CALLERS = ("direct", *CODE_CALLERS)
CODE_TOOL_FIELDS = {"type", "name", "allowed_callers", "cache_control", "defer_loading", "strict"}
CUSTOM_TOOL_FIELDS = {
    "type",
    "name",
    "description",
    "input_schema",
    "cache_control",
    "allowed_callers",
    "defer_loading",
    "strict",
    "input_examples",
    "eager_input_streaming",
}

# Body fields: everything the SDK's create params declare, except `betas` (sent as a header), plus
# `stream` and the sampling parameters that only API version 2023-06-01 still accepts.
SAMPLING_FIELDS = ("temperature", "top_p", "top_k")
BODY_FIELDS: frozenset[str] = frozenset(
    (_fields(_create_params.MessageCreateParamsBase) - {"betas"}) | {"stream", *SAMPLING_FIELDS}
)

ASSISTANT_ONLY_TYPES = frozenset(
    {
        "tool_use",
        "server_tool_use",
        "thinking",
        "redacted_thinking",
        "mcp_tool_use",
        "mcp_tool_result",
        "compaction",
        "fallback",
        "mcp_tool_listing",
        *(t for t in BLOCK_TYPES if t.endswith("_tool_result") and t != "tool_result"),
    }
)
USER_ONLY_TYPES = frozenset({"tool_result", "image", "document", "search_result"})
