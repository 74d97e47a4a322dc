"""Paused generations and how a continuation request finds the one it resumes.

The real API resumes a paused turn from what the client sends back; the emulator keeps the rest of
the scripted turn (its remaining steps, and for programmatic calls the cell waiting in the sandbox)
keyed by the assistant content it sent — normalised, so harmless differences in how a client
serialises it do not matter — and, for programmatic calls, by ``(container, server_tool_use id)``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .script import ServerStep, Step, StepContext
from .tokens import canonical

MAX_PAUSED = 10_000


@dataclass
class Generation:
    steps: deque[Step]
    ctx: StepContext


@dataclass
class Paused:
    generation: Generation
    kind: Literal["client_tool", "code_calls", "pause_turn"]
    container_id: str | None
    content_key: str = ""
    tool_use_ids: tuple[str, ...] = ()
    call_ids: dict[str, str] = field(default_factory=dict)
    """Programmatic calls: tool_use id -> the sandbox's call id."""
    server_tool_use_id: str | None = None
    output_dir: Path | None = None
    dangling: ServerStep | None = None


@dataclass
class Turn:
    generation: Generation
    resume: Paused | None


def _normalise(value: Any) -> Any:
    """Drop ``None`` values and ``cache_control``: clients may add the latter and SDK dumps may
    differ in the former, neither changes what was said."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None and k != "cache_control"}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def content_key(content: list[dict[str, Any]]) -> str:
    return hashlib.sha256(canonical(_normalise(content)).encode()).hexdigest()


class PausedStore:
    """Paused generations, bounded (oldest dropped first)."""

    def __init__(self) -> None:
        self._by_content: OrderedDict[str, list[Paused]] = OrderedDict()
        self._by_cell: dict[tuple[str, str], Paused] = {}

    def add(self, p: Paused) -> None:
        self._by_content.setdefault(p.content_key, []).append(p)
        if p.kind == "code_calls" and p.container_id and p.server_tool_use_id:
            self._by_cell[(p.container_id, p.server_tool_use_id)] = p
        while len(self._by_content) > MAX_PAUSED:
            _, dropped = self._by_content.popitem(last=False)
            for d in dropped:
                self._forget_cell(d)

    def _forget_cell(self, p: Paused) -> None:
        if p.container_id and p.server_tool_use_id:
            self._by_cell.pop((p.container_id, p.server_tool_use_id), None)

    def remove(self, p: Paused) -> None:
        bucket = self._by_content.get(p.content_key, [])
        if p in bucket:
            bucket.remove(p)
            if not bucket:
                del self._by_content[p.content_key]
        self._forget_cell(p)

    def by_cell(self, container_id: str, server_tool_use_id: str) -> Paused | None:
        return self._by_cell.get((container_id, server_tool_use_id))

    def by_content(self, key: str, kind: str, container_id: str | None) -> Paused | None:
        candidates = [p for p in self._by_content.get(key, []) if p.kind == kind]
        same = [p for p in candidates if p.container_id == container_id]
        pool = same or candidates
        return pool[0] if pool else None

    def drop_container(self, container_id: str) -> None:
        for bucket in list(self._by_content.values()):
            for p in list(bucket):
                if p.container_id == container_id:
                    self.remove(p)
