"""Persistence: SQLAlchemy async on SQLite (default) or PostgreSQL (several replicas)."""

from __future__ import annotations

from bot.store.commands import SlashCommand
from bot.store.database import Database
from bot.store.fencing import TurnFenced
from bot.store.migrate import SchemaBehind, ensure_schema
from bot.store.records import (
    Enqueued,
    InboxItem,
    InterruptedTurn,
    Resumed,
    StoredFile,
    ThreadState,
    TurnStart,
    UnsureTurn,
    UsageSummary,
)
from bot.store.repository import Store

__all__ = [
    "Database",
    "Enqueued",
    "InboxItem",
    "InterruptedTurn",
    "Resumed",
    "SchemaBehind",
    "SlashCommand",
    "Store",
    "StoredFile",
    "ThreadState",
    "TurnFenced",
    "TurnStart",
    "UnsureTurn",
    "UsageSummary",
    "ensure_schema",
]


async def open_store(database_url: str, *, lease_seconds: float) -> Store:
    """Connect, bring the schema up to date (or refuse), and return the store."""
    db = Database(database_url)
    try:
        await ensure_schema(db)
    except BaseException:
        await db.close()
        raise
    return Store(db, lease_seconds=lease_seconds)
