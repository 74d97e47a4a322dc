"""Slash commands, stored before they are acknowledged and completed exactly once.

`/claude <question>` becomes a message the bot posts in the channel and then answers in its thread.
Slack never sends a command again (only Events API deliveries are retried), so from the moment it is
acknowledged until its question is in the inbox, the command exists only here. It is stored first,
keyed by its `trigger_id`, with every later step recorded (`posted` with the message's ts, then
`queued`), so that when the process handling it dies, another (or the same one, restarted) completes
it from where it stopped: see bot/slack/commands.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.engine import Connection

from bot.store.database import INBOX, Database
from bot.store.schema import commands, replicas

OPEN = ("received", "posted")  # not completed yet


@dataclass(frozen=True, slots=True)
class SlashCommand:
    trigger_id: str
    team_id: str
    channel_id: str
    user_id: str
    text: str
    response_url: str | None
    received_at: float
    state: str = "received"
    ts: str | None = None  # the question's message, once posted
    owner: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> SlashCommand:
        return cls(
            trigger_id=row.trigger_id,
            team_id=row.team_id,
            channel_id=row.channel_id,
            user_id=row.user_id,
            text=row.text,
            response_url=row.response_url,
            received_at=row.received_at,
            state=row.state,
            ts=row.ts,
            owner=row.owner,
        )


class Commands:
    def __init__(self, db: Database, *, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    async def record(self, command: SlashCommand, owner: str) -> bool:
        """Store a command as received, for `owner` to complete. False when its trigger_id is stored
        already (the same command delivered twice). Committed durably, like the inbox: the command is
        acknowledged right after."""
        now = time.time()

        def tx(conn: Connection) -> bool:
            stored = conn.execute(
                self.db.insert(commands)
                .values(
                    trigger_id=command.trigger_id,
                    team_id=command.team_id,
                    channel_id=command.channel_id,
                    user_id=command.user_id,
                    text=command.text,
                    response_url=command.response_url,
                    state="received",
                    owner=owner,
                    received_at=command.received_at,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["trigger_id"])
                .returning(commands.c.trigger_id)
            )
            return stored.first() is not None

        return await self.db.write(tx, priority=INBOX)

    async def posted(self, trigger_id: str, ts: str, owner: str) -> None:
        """The question is in the channel at `ts`: from now on it is never posted again."""
        await self._step(trigger_id, owner, state="posted", ts=ts)

    async def finished(self, trigger_id: str, owner: str, *, queued: bool) -> None:
        """Done: the question is in the inbox (`queued`), or it could not be posted and the person
        was told so."""
        await self._step(trigger_id, owner, state="queued" if queued else "failed")

    async def _step(self, trigger_id: str, owner: str, **values: Any) -> None:
        now = time.time()

        def tx(conn: Connection) -> None:
            conn.execute(
                update(commands)
                .where(commands.c.trigger_id == trigger_id, commands.c.owner == owner)
                .values(updated_at=now, **values)
            )

        await self.db.write(tx)

    async def orphaned(self, owner: str, limit: int = 50) -> list[SlashCommand]:
        """Commands not completed whose owner is gone (no heartbeat within the lease: it died or shut
        down), or is `owner` itself (a step that failed here, to try again; the caller skips those it
        is still working on)."""
        alive = exists().where(
            replicas.c.owner == commands.c.owner, replicas.c.seen_at > time.time() - self.lease_seconds
        )

        def tx(conn: Connection) -> list[SlashCommand]:
            rows = conn.execute(
                select(commands)
                .where(
                    commands.c.state.in_(OPEN),
                    or_(commands.c.owner.is_(None), commands.c.owner == owner, ~alive),
                )
                .order_by(commands.c.received_at)
                .limit(limit)
            )
            return [SlashCommand.from_row(r) for r in rows]

        return await self.db.read(tx)

    async def claim(self, command: SlashCommand, owner: str) -> SlashCommand | None:
        """Take an orphaned command over, unless another process did first (None)."""
        now = time.time()

        def tx(conn: Connection) -> SlashCommand | None:
            row = conn.execute(
                update(commands)
                .where(
                    commands.c.trigger_id == command.trigger_id,
                    commands.c.state.in_(OPEN),
                    commands.c.owner.is_not_distinct_from(command.owner),
                )
                .values(owner=owner, updated_at=now)
                .returning(*commands.c)
            ).first()
            return None if row is None else SlashCommand.from_row(row)

        return await self.db.write(tx)

    async def prune(self, older_than: float) -> int:
        """Drop completed commands received before `older_than`."""

        def tx(conn: Connection) -> int:
            result = conn.execute(
                delete(commands).where(
                    and_(commands.c.state.not_in(OPEN), commands.c.received_at < older_than)
                )
            )
            return int(result.rowcount or 0)

        return await self.db.write(tx)
