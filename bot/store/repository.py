"""The store: durable inbox, per-thread leases, history, files, turns and usage.

`Store` puts together the parts, one module per concern, which share the database and the hot-path
statements (base.py): the inbox (inbox.py), turns (turns.py), leases (leases.py), the conversation
(history.py), files (thread_files.py), accounting (accounting.py), the audit log (audit.py),
per-channel settings (channel_settings.py) and who takes part in a thread (participants.py);
records.py holds what they take
and return. Each public method is one transaction, so the engine's hot path costs a handful of short
writes per turn. Inbound messages are written in small group commits (`enqueue`): a burst of events
from Slack becomes one INSERT, which keeps Socket Mode acks fast even on SQLite.

Leases make "one turn at a time per thread" hold across processes: a thread row carries the owner
and an expiry that the owner's heartbeat renews. Releasing is done in the order that cannot strand
a message: drop the lease first, then look for pending rows (a replica that inserts a row and then
fails to take the lease can rely on the holder seeing it after its release).
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection

from bot.store.accounting import AccountingStore
from bot.store.arrivals import Arrivals
from bot.store.audit import AuditStore
from bot.store.channel_settings import ChannelSettingsStore
from bot.store.commands import Commands
from bot.store.database import Database
from bot.store.history import HistoryStore
from bot.store.inbox import InboxStore, _PendingEnqueue
from bot.store.leases import LeaseStore
from bot.store.participants import ParticipantStore
from bot.store.records import (
    inbox_row,
)
from bot.store.schema import inbox, processed_events, threads
from bot.store.statements import Statements
from bot.store.thread_files import FileStore
from bot.store.twins import Twins


class Store(
    InboxStore,
    LeaseStore,
    HistoryStore,
    FileStore,
    AccountingStore,
    AuditStore,
    ChannelSettingsStore,
    ParticipantStore,
):
    def __init__(self, db: Database, *, lease_seconds: float = 30.0) -> None:
        self.db = db
        self.sql = Statements(db.insert, numbered=not db.is_sqlite)
        self.lease_seconds = lease_seconds
        self.commands = Commands(db, lease_seconds=lease_seconds)
        self._pending: list[_PendingEnqueue] = []
        self._flusher: asyncio.Task[None] | None = None
        self._claims: set[asyncio.Task[None]] = set()
        self.twins = Twins(db, db.insert, inbox_row)  # the two events of a mention (twins.py)
        self.arrivals = Arrivals()

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await asyncio.gather(*self._claims, return_exceptions=True)
        await self.db.close()

    async def ping(self) -> None:
        """A trivial query: raises when the database is unreachable (readiness)."""
        await self.db.read(lambda conn: conn.execute(select(1)).scalar())

    async def prune(self, older_than: float) -> int:
        """Drop old processed-event keys, finished inbox rows and completed commands. Never touches
        pending or claimed rows, nor rows of a thread whose lease is live (its turn may still need them)."""
        now = time.time()
        live = select(threads.c.key).where(threads.c.lease_owner.is_not(None), threads.c.lease_expires > now)

        def tx(conn: Connection) -> int:
            a = conn.execute(delete(processed_events).where(processed_events.c.received_at < older_than))
            b = conn.execute(
                delete(inbox).where(
                    and_(
                        inbox.c.state.in_(["done", "failed"]),
                        inbox.c.updated_at < older_than,
                        inbox.c.thread_key.not_in(live),
                    )
                )
            )
            return int(a.rowcount or 0) + int(b.rowcount or 0)

        return await self.db.write(tx) + await self.commands.prune(older_than)
