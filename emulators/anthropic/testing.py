"""Small helpers for tests that drive the emulator (fidelity tests, bot end-to-end tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import anthropic

from .server import AnthropicEmulator

MODEL = "claude-sonnet-4-6"
# Typed `Any` so tests can pass it where the SDK expects its TypedDict unions.
CODE_EXECUTION: Any = {"type": "code_execution_20260120", "name": "code_execution"}


def ptc_tool(name: str, description: str = "", properties: dict[str, Any] | None = None) -> Any:
    """A client tool that Python cells may call (programmatic tool calling)."""
    return {
        "name": name,
        "description": description or f"The {name} tool.",
        "input_schema": {"type": "object", "properties": properties or {}},
        "allowed_callers": ["code_execution_20260120"],
    }


def client(emu: AnthropicEmulator, **kwargs: Any) -> anthropic.AsyncAnthropic:
    """The real SDK client pointed at the emulator (no retries unless asked)."""
    kwargs.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=emu.api_key, **kwargs)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> None:
    """Wait until ``predicate()`` is true (polling), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
