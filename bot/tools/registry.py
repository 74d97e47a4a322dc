"""A small registry of tools: definitions for the request, dispatch for calls.

Operators add their own tools with `TOOLS_MODULES=my_pkg.tools`: each module exposes
`register(registry: ToolRegistry) -> None` and calls `registry.add(...)`; a tool is for sandbox code by
default (`caller="code"`: it is an async function in the Python REPL), or for Claude's own turn with
`caller="direct"`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.model import ThreadKey, ToolOutput

log = logging.getLogger(__name__)

TOOL_TIMEOUT_SECONDS = 120.0  # well inside the ~4 minutes a paused cell waits (reference §4)


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know and do about the thread it runs for (given by the engine)."""

    key: ThreadKey
    user_id: str
    thread_messages: Callable[[int], Awaitable[list[dict[str, Any]]]]
    post_note: Callable[[str], Awaitable[None]]
    # The data sources the thread's channel may query (`/claude config`); None: every one.
    data_sources: frozenset[str] | None = None


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[str | dict[str, Any] | list[Any]]]
Caller = Literal["code", "direct"]


class ToolFailed(Exception):
    """A tool's expected refusal (bad input, not allowed): its message is the error Claude reads,
    and the log gets one line, not a stack trace."""


@dataclass(frozen=True)
class _Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    caller: Caller


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, _Tool] = {}
        self._notes: list[str] = []

    def add_note(self, text: str) -> None:
        """A section for the system prompt that explains a group of tools (how to call them, what
        they reach). Constant for the deployment, so the prompt keeps hitting the cache."""
        if text.strip():
            self._notes.append(text.strip())

    @property
    def prompt_notes(self) -> str:
        return "\n\n".join(self._notes)

    def add(
        self,
        name: str,
        description: str,
        input_schema: dict[str, Any],
        handler: Handler,
        *,
        caller: Caller = "code",
    ) -> None:
        """`caller`: who Claude should call the tool from, sandbox code ("code", the default) or its own
        turn ("direct"). One or the other, as Anthropic's programmatic tool calling docs advise ("choose
        either `["direct"]` or `["code_execution_20260120"]` for each tool rather than enabling both");
        it is guidance, so a call from the other side still runs."""
        if name in self._tools or name == "code_execution":
            raise ValueError(f"a tool named {name!r} is already registered")
        if caller not in ("code", "direct"):
            raise ValueError(f"caller must be 'code' or 'direct', not {caller!r}")
        self._tools[name] = _Tool(name, description, input_schema, handler, caller)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self, code_execution_tool: str) -> list[dict[str, Any]]:
        """Tool entries for the request. `allowed_callers` names the code execution version in use
        (the two current versions are interchangeable there, reference §4)."""
        return [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema,
                "allowed_callers": [code_execution_tool] if tool.caller == "code" else ["direct"],
            }
            for tool in self._tools.values()
        ]

    async def run(self, name: str, tool_input: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        tool = self._tools.get(name)
        if tool is None:
            return ToolOutput(f"There is no tool named {name!r}.", is_error=True)
        try:
            async with asyncio.timeout(TOOL_TIMEOUT_SECONDS):
                value = await tool.handler(ctx, tool_input)
        except TimeoutError:
            return ToolOutput(f"The tool {name} took too long and was cancelled.", is_error=True)
        except ToolFailed as exc:
            log.info("tool %s refused: %s", name, exc)
            return ToolOutput(str(exc), is_error=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("tool %s failed", name)
            return ToolOutput(f"The tool {name} failed: {exc}", is_error=True)
        if isinstance(value, str):
            return ToolOutput(value)
        return ToolOutput(json.dumps(value, ensure_ascii=False))

    def load_modules(self, modules: Sequence[str]) -> None:
        for module_name in modules:
            module = importlib.import_module(module_name)
            register = getattr(module, "register", None)
            if register is None:
                raise ValueError(f"tools module {module_name} has no register(registry) function")
            register(self)
