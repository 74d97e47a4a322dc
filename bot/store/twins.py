"""The two events of one Slack mention, kept as one inbox row (bot/slack/inbound.py says why).

Whichever event of a (channel, ts) is stored first makes the row and may start the turn; the other
one is a duplicate that can still bring something: files the first lacked, and, from the `message`
twin, the end of the wait of a turn started from an `app_mention` without files (`awaiting_twin`).
Files that come after their turn took its files in go to the thread's next turn, in a row of their
own, just after the message.

Most twins arrive at the process that stored their first event, a moment later: what that process
stored recently is remembered, so such a twin costs nothing more than its conflicting INSERT, and a
turn waiting for it is woken in memory. Twins that reach another replica, or bring files, go through
the database (one transaction per batch), where a turn that waited in vain also closes its wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey
from bot.store.database import ANSWER, INBOX, Database
from bot.store.schema import inbox

Pair = tuple[str, str]  # (channel, ts)
RowOf = Callable[[Inbound, float, str], dict[str, Any]]

# A turn waiting for a twin another replica stores looks in the database this often.
POLL_SECONDS = 0.1
# How long what this process stored is remembered (a twin comes within milliseconds when it comes).
REMEMBER_SECONDS = 300.0
# The text of a row holding only the files of an earlier message, which came too late for its turn.
LATE_FILES_TEXT = "(These files belong to my previous message; they reached you after you had started on it.)"


@dataclass
class _Stored:
    """A message this process stored: the files its row holds, and what became of its twin."""

    file_ids: set[str]
    at: float
    arrived: bool = False  # its `message` twin came here
    extra: list[InboundFile] = field(default_factory=list)  # files its twin brought
    sealed: bool = False  # its turn took its files in: later files go to the next turn


def join_in_batch(row: dict[str, Any], twin: Inbound) -> None:
    """Both events of one message in one batch: one row, with the files of either, and nothing left
    to wait for when one of them is the `message` twin."""
    known = json.loads(row["files"])
    ids = {f["id"] for f in known}
    new = [f.to_json() for f in twin.files if f.slack_file_id not in ids]
    if new:
        row["files"] = json.dumps(known + new, separators=(",", ":"), ensure_ascii=False)
    row["awaiting_twin"] = row["awaiting_twin"] and twin.awaits_twin


class Twins:
    def __init__(self, db: Database, insert: Any, row_of: RowOf) -> None:
        self.db = db
        self._insert = insert
        self._row_of = row_of
        self._stored: dict[Pair, _Stored] = {}
        self._changed = asyncio.Event()  # set (then replaced) when a twin arrives here (see _changes)

    def remember(self, inbounds: Iterable[Inbound], rows: Mapping[Pair, Any]) -> None:
        """The messages of `rows` (by channel and ts) were just stored by this process, from `inbounds`."""
        now = time.monotonic()
        for inbound in inbounds:
            pair = (inbound.key.channel_id, inbound.ts)
            if pair not in rows:
                continue
            stored = self._stored.get(pair)
            if stored is None:
                stored = self._stored[pair] = _Stored(set(), now)
            stored.file_ids.update(f.slack_file_id for f in inbound.files)
        while self._stored:  # oldest first: drop what is long past its twin
            oldest = next(iter(self._stored))
            if now - self._stored[oldest].at < REMEMBER_SECONDS:
                break
            del self._stored[oldest]

    def absorb(self, twin: Inbound) -> bool:
        """True when `twin` is the second event of a message this process stored and brings nothing
        new: it needs no database work at all (a mention's twin in a burst costs only this)."""
        stored = self._stored.get((twin.key.channel_id, twin.ts))
        if stored is None or any(f.slack_file_id not in stored.file_ids for f in twin.files):
            return False
        if not twin.awaits_twin and not stored.arrived:
            stored.arrived = True
            self._changes()
        return True

    async def join(self, duplicates: Iterable[Inbound]) -> set[Pair]:
        """Apply what duplicates of stored messages bring. Returns the (channel, ts) of those whose
        files came too late for their turn and now wait for the next one."""
        news: list[Inbound] = []
        arrived: list[_Stored] = []
        for twin in duplicates:
            stored = self._stored.get((twin.key.channel_id, twin.ts))
            if stored is None:
                # Stored by another replica (or long ago): only the database knows what it needs.
                if twin.files or (twin.kind is InboundKind.MENTION and not twin.awaits_twin):
                    news.append(twin)
                continue
            if any(f.slack_file_id not in stored.file_ids for f in twin.files):
                news.append(twin)
            if not twin.awaits_twin:
                arrived.append(stored)  # the `message` twin: nothing more will come
        late: set[Pair] = set()
        if news:
            now = time.time()
            joined, late = await self.db.write(lambda conn: self._join_tx(conn, news, now), priority=INBOX)
            for twin in news:
                stored = self._stored.get((twin.key.channel_id, twin.ts))
                if stored is not None and not stored.sealed and (twin.key.channel_id, twin.ts) in joined:
                    new = [f for f in twin.files if f.slack_file_id not in stored.file_ids]
                    stored.file_ids.update(f.slack_file_id for f in new)
                    stored.extra += new
        # Only now, with the files in the row: a turn woken earlier could take its files in without them.
        for stored in arrived:
            stored.arrived = True
        if news or arrived:
            self._changes()
        return late

    def _join_tx(self, conn: Connection, news: list[Inbound], now: float) -> tuple[set[Pair], set[Pair]]:
        """(pairs whose row took the twin's files, pairs whose files wait in a row of their own)."""
        joined: set[Pair] = set()
        late: set[Pair] = set()
        for twin in news:
            channel, ts = twin.key.channel_id, twin.ts
            row = conn.execute(
                select(inbox.c.id, inbox.c.files, inbox.c.state, inbox.c.awaiting_twin, inbox.c.thread_key)
                .where(inbox.c.channel_id == channel, inbox.c.ts == ts)
                .with_for_update()  # a turn closing its wait for this row waits, then sees the files
            ).first()
            if row is None:
                continue  # not stored (a reply where the bot takes no part)
            known = json.loads(row.files)
            ids = {f["id"] for f in known}
            new = [f.to_json() for f in twin.files if f.slack_file_id not in ids]
            awaiting = bool(row.awaiting_twin) and twin.awaits_twin
            stored = self._stored.get((channel, ts))
            # A turn here that took its files in without a look at the database (settle).
            sealed_here = stored is not None and stored.sealed
            if row.state in ("pending", "failed") or (row.awaiting_twin and not sealed_here):
                joined.add((channel, ts))
                if new or awaiting != bool(row.awaiting_twin):
                    conn.execute(
                        update(inbox)
                        .where(inbox.c.id == row.id)
                        .values(
                            files=json.dumps(known + new, separators=(",", ":"), ensure_ascii=False),
                            awaiting_twin=awaiting,
                            updated_at=now,
                        )
                    )
            elif new:
                follow = Inbound(
                    ThreadKey.parse(row.thread_key),
                    # Just after the message, before any later one: string and number order agree.
                    ts + "1",
                    twin.user_id,
                    LATE_FILES_TEXT,
                    InboundKind.MESSAGE,
                    tuple(InboundFile.from_json(f) for f in new),
                    user_team=twin.user_team,
                )
                added = conn.execute(
                    self._insert(inbox)
                    .values(**self._row_of(follow, now, row.thread_key))
                    .on_conflict_do_nothing(index_elements=["channel_id", "ts"])
                    .returning(inbox.c.id)
                ).first()
                if added is not None:  # not a redelivery of a twin whose files wait already
                    late.add((channel, ts))
        return joined, late

    async def settle(
        self,
        turn_id: str,
        channel_id: str,
        items: Iterable[tuple[int, str, tuple[InboundFile, ...]]],
        wait: float,
    ) -> dict[int, tuple[InboundFile, ...]]:
        """The files of a turn's messages (`items`: inbox row id, ts, files as claimed), once the twins
        that may bring more have come, or `wait` seconds have passed; from then on a twin's files go
        to the thread's next turn."""
        items = list(items)
        deadline = time.monotonic() + wait
        mine = [self._stored.get((channel_id, ts)) for _, ts, _ in items]
        looked = time.monotonic()  # the database is asked only if the twins take a while
        while not all(s is not None and s.arrived for s in mine):
            now = time.monotonic()
            if now >= deadline:
                break
            if now - looked >= POLL_SECONDS:
                # A twin that reached another replica is stored there, in the database only.
                looked = now
                if not await self.db.read(
                    lambda conn: (
                        conn.execute(
                            select(inbox.c.id)
                            .where(inbox.c.turn_id == turn_id, inbox.c.awaiting_twin)
                            .limit(1)
                        ).first()
                        is not None
                    )
                ):
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(deadline - now, POLL_SECONDS))
        for stored in mine:
            if stored is not None:
                stored.sealed = True
        if all(s is not None and s.arrived for s in mine):
            # Their twins came here: what they brought is known without the database.
            return {
                row_id: (*files, *stored.extra)
                for (row_id, _, files), stored in zip(items, mine, strict=True)
                if stored is not None
            }

        def seal(conn: Connection) -> dict[int, tuple[InboundFile, ...]]:
            conn.execute(
                update(inbox)
                .where(inbox.c.turn_id == turn_id, inbox.c.awaiting_twin)
                .values(awaiting_twin=False)
            )
            rows = conn.execute(select(inbox.c.id, inbox.c.files).where(inbox.c.turn_id == turn_id))
            return {r.id: tuple(InboundFile.from_json(f) for f in json.loads(r.files)) for r in rows}

        return await self.db.write(seal, priority=ANSWER)

    def _changes(self) -> None:
        """Wake the turns waiting for twins (the event is replaced: each wait sees the next change)."""
        self._changed.set()
        self._changed = asyncio.Event()
