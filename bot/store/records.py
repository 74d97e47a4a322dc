"""The store's records: what its methods take and return, and the row helpers they share (pure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey, Usage
from bot.store.statements import ENQUEUE_CHUNK

T = TypeVar("T")


class RolledBack(Exception):
    """Raised to roll a transaction back on purpose (see Store.warm_up)."""


def dumps_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ThreadState:
    key: ThreadKey
    generation: int
    container_id: str | None
    container_expires_at: str | None
    context_loaded: bool
    trimmed_blocks: int


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    ts: str
    user_id: str
    kind: InboundKind
    text: str
    files: tuple[InboundFile, ...]
    wants_context: bool
    user_team: str | None = None  # the sender's team when it is not the bot's (Slack Connect)
    awaiting_twin: bool = False  # its files may still come with a twin event (twins.py)


@dataclass(frozen=True, slots=True)
class InterruptedTurn:
    """A turn whose owner died, rolled back to run again. `posted_output`: people saw part of its
    answer (marked interrupted in the thread), so the new turn says it answers again."""

    turn_id: str
    posted_output: bool


@dataclass(frozen=True, slots=True)
class UnsureTurn:
    """A dead owner's turn that was about to post (or had posted) output: whether anything reached
    the thread is asked of Slack (messages newer than `last_answer_ts`) before it is resolved."""

    turn_id: str
    last_answer_ts: str | None


@dataclass(frozen=True, slots=True)
class StoredFile:
    origin: str
    source_id: str
    slack_file_id: str | None
    anthropic_file_id: str | None
    name: str
    mimetype: str
    size: int
    sha256: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Resumed:
    """A turn a clean shutdown suspended, taken up again where it stopped (see Store.suspend_turn)."""

    # The turn's saved messages, its user message first; none when it was suspended before its first
    # model response was saved (it then runs from the start).
    messages: tuple[dict[str, Any], ...]
    stop_reason: str | None  # of the last saved response: continue, run its tool calls, or only finish


@dataclass(frozen=True, slots=True)
class TurnStart:
    """Everything a turn needs from the store, read in the transaction that claims it."""

    thread: ThreadState  # as it was before this turn (context_loaded tells whether to fetch context)
    turn_id: str | None  # None when nothing is pending (the lease was given up again)
    items: tuple[InboxItem, ...]
    interrupted: tuple[InterruptedTurn, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    files: tuple[StoredFile, ...] = ()
    unsure: tuple[UnsureTurn, ...] = ()  # to resolve (resolve_interrupted) before anything is claimed
    resumed: Resumed | None = None  # a suspended turn going on (its items are the ones it had claimed)


@dataclass(frozen=True, slots=True)
class Enqueued:
    new: bool
    thread_busy: bool  # another turn of this thread is running right now (anywhere)
    # With `claim_for`: the turn the store claimed for the caller right after storing the message
    # (None inside when it could not: the thread is busy or was not claimable), see Store.enqueue.
    claimed: asyncio.Future[TurnStart | None] | None = None


@dataclass(frozen=True, slots=True)
class UsageSummary:
    turns: int
    usage: Usage


def stored_file(r: Any) -> StoredFile:
    return StoredFile(
        origin=r.origin,
        source_id=r.source_id,
        slack_file_id=r.slack_file_id,
        anthropic_file_id=r.anthropic_file_id,
        name=r.name,
        mimetype=r.mimetype,
        size=r.size,
        sha256=r.sha256,
        created_at=r.created_at,
    )


def chunked(items: list[T]) -> list[list[T]]:
    """`items` in slices small enough for one statement's parameters (see ENQUEUE_CHUNK)."""
    return [items[first : first + ENQUEUE_CHUNK] for first in range(0, len(items), ENQUEUE_CHUNK)]


def usage_row(
    turn_id: str,
    key: ThreadKey,
    user_id: str,
    model: str,
    turn_usage: Usage,
    now: float,
    outcome: str | None = None,
) -> dict[str, Any]:
    return {
        "turn_id": turn_id,
        "thread_key": str(key),
        "team_id": key.team_id,
        "channel_id": key.channel_id,
        "user_id": user_id,
        "model": model,
        "input_tokens": turn_usage.input_tokens,
        "output_tokens": turn_usage.output_tokens,
        "cache_read_tokens": turn_usage.cache_read_tokens,
        "cache_write_tokens": turn_usage.cache_write_tokens,
        "requests": turn_usage.requests,
        "created_at": now,
        "cache_write_1h_tokens": turn_usage.cache_write_1h_tokens,
        "web_search_requests": turn_usage.web_search_requests,
        "container_seconds": turn_usage.container_seconds,
        "cost_micros": turn_usage.cost_micros,
        "outcome": outcome,
    }


def inbox_row(inbound: Inbound, now: float, thread_key: str) -> dict[str, Any]:
    """The inbox row of a message, as `enqueue` inserts it."""
    return {
        "thread_key": thread_key,
        "channel_id": inbound.key.channel_id,
        "ts": inbound.ts,
        "event_id": inbound.event_id,
        "user_id": inbound.user_id,
        "user_team": inbound.user_team,
        "kind": inbound.kind.value,
        "text": inbound.text,
        "files": dumps_json([f.to_json() for f in inbound.files]) if inbound.files else "[]",
        "wants_context": inbound.wants_thread_context,
        "awaiting_twin": inbound.awaits_twin,
        "state": "pending",
        "received_at": now,
        "updated_at": now,
    }


def inbox_item(row: Mapping[Any, Any]) -> InboxItem:
    """A stored inbox row (a database row's mapping, or the dict that was inserted plus its id)."""
    return InboxItem(
        id=row["id"],
        ts=row["ts"],
        user_id=row["user_id"],
        kind=InboundKind(row["kind"]),
        text=row["text"],
        files=tuple(InboundFile.from_json(f) for f in json.loads(row["files"])),
        wants_context=bool(row["wants_context"]),
        user_team=row["user_team"],
        awaiting_twin=bool(row["awaiting_twin"]),
    )
