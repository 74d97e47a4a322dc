"""A small registry of tools: definitions for the request, dispatch for calls.

Operators add their own tools with `TOOLS_MODULES=my_pkg.tools`: each module exposes
`register(registry: ToolRegistry) -> None` and calls `registry.add(...)`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[str | dict[str, Any] | list[Any]]]


class ToolFailed(Exception):
    """A tool's expected refusal (bad input, not allowed): its message is the error Claude reads,
    and the log gets one line, not a stack trace."""


@dataclass(frozen=True)
class _Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    from_code: bool
    direct: bool


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, _Tool] = {}

    def add(
        self,
        name: str,
        description: str,
        input_schema: dict[str, Any],
        handler: Handler,
        *,
        from_code: bool = True,
        direct: bool = True,
    ) -> None:
        if name in self._tools or name == "code_execution":
            raise ValueError(f"a tool named {name!r} is already registered")
        self._tools[name] = _Tool(name, description, input_schema, handler, from_code, direct)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self, code_execution_tool: str) -> list[dict[str, Any]]:
        """Tool entries for the request. `allowed_callers` names the code execution version in use
        (the two current versions are interchangeable there, reference §4)."""
        out = []
        for tool in self._tools.values():
            callers = (["direct"] if tool.direct else []) + ([code_execution_tool] if tool.from_code else [])
            out.append(
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                    "allowed_callers": callers,
                }
            )
        return out

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
