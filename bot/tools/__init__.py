"""Tools Claude may call, mostly from its sandbox code (programmatic tool calling)."""

from __future__ import annotations

from bot.tools.builtin import register_builtin
from bot.tools.registry import ToolContext, ToolRegistry

__all__ = ["ToolContext", "ToolRegistry", "register_builtin"]
