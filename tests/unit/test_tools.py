"""Tool definitions: each tool names one caller, as the programmatic tool calling docs advise."""

from __future__ import annotations

from typing import Any

import pytest

from bot.tools import ToolContext, ToolRegistry, register_builtin


async def _noop(ctx: ToolContext, tool_input: dict[str, Any]) -> str:
    return "ok"


SCHEMA = {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("code_tool", "caller", "allowed"),
    [
        ("code_execution_20260120", "code", ["code_execution_20260120"]),
        ("code_execution_20260521", "code", ["code_execution_20260521"]),
        ("code_execution_20260120", "direct", ["direct"]),
    ],
)
def test_a_tool_names_exactly_one_caller(code_tool: str, caller: Any, allowed: list[str]) -> None:
    registry = ToolRegistry()
    registry.add("lookup", "Look something up.", SCHEMA, _noop, caller=caller)
    assert registry.definitions(code_tool)[0]["allowed_callers"] == allowed


def test_the_builtin_tools_are_for_sandbox_code_only() -> None:
    """Never both callers (docs: "choose either ... rather than enabling both"), and at least one tool
    callable from code, which keeps the REPL alive across requests (DESIGN.md)."""
    registry = ToolRegistry()
    register_builtin(registry)
    callers = {d["name"]: d["allowed_callers"] for d in registry.definitions("code_execution_20260120")}
    assert callers == {
        "thread_history": ["code_execution_20260120"],
        "post_update": ["code_execution_20260120"],
    }


def test_an_unknown_caller_is_refused() -> None:
    with pytest.raises(ValueError, match="caller"):
        ToolRegistry().add("lookup", "Look something up.", SCHEMA, _noop, caller="both")  # type: ignore[arg-type]
