"""The built-in tools. Both are for sandbox code only (`allowed_callers` names just the code execution
tool): their output is data to process in Python or a side effect, not something Claude needs in its
context. Declaring at least one such tool is also what keeps the Python REPL state alive across
requests (the persistent REPL needs it, DESIGN.md), so these two are always registered."""

from __future__ import annotations

from typing import Any

from bot.tools.registry import ToolContext, ToolRegistry

MAX_NOTE_CHARS = 500


async def thread_history(ctx: ToolContext, tool_input: dict[str, Any]) -> list[dict[str, Any]]:
    limit = tool_input.get("limit", 100)
    limit = (
        max(1, min(int(limit), 1000))
        if isinstance(limit, int | float | str) and str(limit).isdigit()
        else 100
    )
    return await ctx.thread_messages(limit)


async def post_update(ctx: ToolContext, tool_input: dict[str, Any]) -> str:
    text = str(tool_input.get("text", "")).strip()
    if not text:
        return "Nothing posted: `text` was empty."
    await ctx.post_note(text[:MAX_NOTE_CHARS])
    return "Posted."


def register_builtin(registry: ToolRegistry) -> None:
    registry.add(
        "thread_history",
        "The messages of this Slack thread so far, oldest first: author name and id, text, time, and the "
        "names of attached files. Returns a JSON array.",
        {
            "type": "object",
            "properties": {
                "limit": {
                    "type": "integer",
                    "description": "At most this many of the latest messages (default 100).",
                }
            },
        },
        thread_history,
    )
    registry.add(
        "post_update",
        "Post a short progress note (one line) into the Slack thread while a long computation runs, "
        "e.g. 'Loaded 2.3M rows, now aggregating'.",
        {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "The note, one short line."}},
            "required": ["text"],
        },
        post_update,
    )
