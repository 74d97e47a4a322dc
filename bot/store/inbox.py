"""The durable inbox: messages stored before their acknowledgement, deduplicated, in group commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.bounds import MAX_PENDING_INBOX, Full, Throttled
from bot.model import Inbound, InboundKind, ThreadKey
from bot.store.bad_rows import describe, refused_row, sanitised
from bot.store.database import INBOX
from bot.store.records import (
    Enqueued,
    RolledBack,
    ThreadState,
    TurnStart,
    chunked,
    inbox_item,
    inbox_row,
)
from bot.store.schema import inbox, processed_events
from bot.store.statements import INBOX_COLUMNS
from bot.store.turns import TurnStore
from bot.store.twins import join_in_batch

log = logging.getLogger(__name__)
_full = Throttled(log)

# A batch this small also claims its threads' turns in its own transaction (see InboxStore.enqueue).
SMALL_BATCH = 8


@dataclass
class _PendingEnqueue:
    inbound: Inbound
    claim_for: str | None
    in_conversation_only: bool
    future: asyncio.Future[Enqueued] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class InboxStore(TurnStore):
    """The durable inbox: every message stored (deduplicated) before Slack is acknowledged, in small
    group commits, and the first turn of a new thread claimed along with it where that is safe."""

    _pending: list[_PendingEnqueue]
    _flusher: asyncio.Task[None] | None
    _claims: set[asyncio.Task[None]]

    async def enqueue(
        self, inbound: Inbound, *, claim_for: str | None = None, in_conversation_only: bool = False
    ) -> Enqueued:
        """Persist one inbound message; `new` is False for a duplicate (twin event or redelivery).

        With `in_conversation_only` (a plain reply in a channel thread) the message is stored only
        where the bot takes part already, and is otherwise ignored (`new` False): checked in the same
        transaction, so a reply costs one trip to the database, not two.

        With `claim_for` (the caller has no worker on the thread), the store also takes the thread's
        lease for that owner and claims the turn, sparing the worker a trip to the database: a small
        batch does it in the same transaction as the insert; in a burst, a second transaction claims
        every new thread of the batch at once, after the messages are stored and acknowledged (a
        thread that already exists is then left to the worker)."""
        if self.twins.absorb(inbound):
            return Enqueued(new=False, thread_busy=False)
        if len(self._pending) >= MAX_PENDING_INBOX:
            # The database is not keeping up: this message is not stored, so not acknowledged, and
            # Slack delivers it again later (bot/bounds.py).
            _full.warning("the inbox is full: messages are left for Slack to deliver again")
            raise Full("the inbox is full")
        item = _PendingEnqueue(inbound, claim_for, in_conversation_only)
        self._pending.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await item.future

    async def _flush_loop(self) -> None:
        # Everything that queued up while the previous batch was committing goes in the next one.
        while self._pending:
            batch, self._pending = self._pending, []
            # Claiming in the insert's transaction lengthens it: not while a burst waits to be stored.
            small = len(batch) <= SMALL_BATCH and not self.arrivals.in_burst
            try:
                results, unclaimed = await self._insert_batch(batch, claim_inline=small)
            except Exception as exc:
                if refused_row(exc):
                    # One row the database will not take must not cost the others (see bad_rows).
                    if len(batch) > 1:
                        log.warning(
                            "the inbox refused a batch of %d (%s): storing it row by row",
                            len(batch),
                            describe(exc),
                        )
                    for item in batch:
                        await self._insert_alone(
                            item, claim_inline=small, refused=exc if len(batch) == 1 else None
                        )
                    continue
                # The database failed, not a row: nothing is stored, and Slack delivers the batch again.
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            self._settle(batch, results, unclaimed)

    def _settle(
        self,
        batch: Sequence[_PendingEnqueue],
        results: list[Enqueued],
        unclaimed: dict[str, tuple[str, asyncio.Future[TurnStart | None], list[dict[str, Any]]]],
    ) -> None:
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():
                p.future.set_result(result)
        if unclaimed:
            self._claims.add(task := asyncio.create_task(self._claim_new_threads(unclaimed)))
            task.add_done_callback(self._claims.discard)

    async def _insert_alone(
        self, item: _PendingEnqueue, *, claim_inline: bool, refused: Exception | None = None
    ) -> None:
        """Store one message of a refused batch: as it is (unless it was refused alone: `refused`),
        else without what the database cannot hold, else not at all. A message no database could store
        is acknowledged and dropped (logged once), since Slack would otherwise deliver it again for
        ever; only a failing database is left to Slack to deliver again."""
        attempts = [item.inbound] if refused is None else []
        if (clean := sanitised(item.inbound)) is not None:
            attempts.append(clean)
        for inbound in attempts:
            try:
                results, unclaimed = await self._insert_batch(
                    [replace(item, inbound=inbound)], claim_inline=claim_inline
                )
            except Exception as exc:
                if not refused_row(exc):
                    if not item.future.done():
                        item.future.set_exception(exc)
                    return
                refused = exc
                continue
            if inbound is not item.inbound:
                log.warning("message %s in %s was stored without its NUL characters", inbound.ts, inbound.key)
            self._settle([item], results, unclaimed)
            return
        log.error(
            "message %s in %s can never be stored (%s): acknowledged and dropped",
            item.inbound.ts,
            item.inbound.key,
            describe(refused) if refused is not None else "refused",
        )
        if not item.future.done():
            item.future.set_result(Enqueued(new=False, thread_busy=False))

    async def _insert_batch(
        self, batch: Sequence[_PendingEnqueue], *, claim_inline: bool
    ) -> tuple[list[Enqueued], dict[str, tuple[str, asyncio.Future[TurnStart | None], list[dict[str, Any]]]]]:
        """Store a batch; returns the results and, for a burst, the new threads still to claim."""
        now = time.time()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        owners: dict[str, str] = {}
        anyway: set[tuple[str, str]] = set()
        # Per item, once: this runs on the event loop while a burst waits to be read.
        skeys = [str(item.inbound.key) for item in batch]
        for item, skey in zip(batch, skeys, strict=True):
            pair = (item.inbound.key.channel_id, item.inbound.ts)
            if pair not in rows:
                rows[pair] = inbox_row(item.inbound, now, skey)
            else:
                join_in_batch(rows[pair], item.inbound)  # both events of one mention in one batch
            if item.claim_for:
                owners[skey] = item.claim_for
            if not item.in_conversation_only:
                anyway.add(pair)
        conditional = set(rows) - anyway
        inserted, busy, starts = await self.db.write(
            lambda conn: self._insert_tx(conn, rows, conditional, owners, now, claim_inline=claim_inline),
            priority=INBOX,
        )
        self.twins.remember((item.inbound for item in batch), inserted)
        late = await self.twins.join(
            item.inbound for item in batch if (item.inbound.key.channel_id, item.inbound.ts) not in inserted
        )
        loop = asyncio.get_running_loop()
        new_rows: dict[str, list[dict[str, Any]]] = {}
        for pair, row_id in inserted.items():
            new_rows.setdefault(rows[pair]["thread_key"], []).append(dict(rows[pair], id=row_id))
        futures: dict[str, asyncio.Future[TurnStart | None]] = {}
        unclaimed: dict[str, tuple[str, asyncio.Future[TurnStart | None], list[dict[str, Any]]]] = {}
        for skey, mine in new_rows.items():
            if skey not in owners or skey in busy:
                continue
            futures[skey] = loop.create_future()
            if skey in starts:
                start = starts[skey]
                futures[skey].set_result(start if start is not None and start.turn_id is not None else None)
            else:
                unclaimed[skey] = (owners[skey], futures[skey], mine)
        results: list[Enqueued] = []
        remaining = dict(inserted)
        for item, skey in zip(batch, skeys, strict=True):
            pair = (item.inbound.key.channel_id, item.inbound.ts)
            # Within one batch the twin of a new row is the duplicate; a twin whose files came too late
            # for its turn made a row of their own (twins.py).
            is_new = pair in remaining or pair in late
            remaining.pop(pair, None)
            late.discard(pair)
            results.append(Enqueued(new=is_new, thread_busy=skey in busy, claimed=futures.pop(skey, None)))
        return results, unclaimed

    def _insert_tx(
        self,
        conn: Connection,
        rows: dict[tuple[str, str], dict[str, Any]],
        conditional: set[tuple[str, str]],
        owners: dict[str, str],
        now: float,
        *,
        claim_inline: bool,
    ) -> tuple[dict[tuple[str, str], int], set[str], dict[str, TurnStart | None]]:
        sql = self.sql
        keys = list({row["thread_key"] for row in rows.values()})
        leases = [
            lease
            for chunk in chunked(keys)
            for lease in conn.exec_driver_sql(sql.thread_leases(len(chunk)), tuple(chunk))
        ]
        busy = {key for key, owner, expires in leases if owner is not None and (expires or 0) > now}
        if conditional:
            # Messages stored only where the bot takes part: a thread it has, or has messages for
            # (stored before, or in this batch by a mention).
            known = {key for key, _, _ in leases} | {
                rows[p]["thread_key"] for p in rows if p not in conditional
            }
            unknown = list({rows[p]["thread_key"] for p in conditional} - known)
            if unknown:
                known |= {r.thread_key for r in conn.execute(sql.queued_threads, {"p_keys": unknown})}
            rows = {p: row for p, row in rows.items() if p not in conditional or row["thread_key"] in known}
        if not rows:
            return {}, busy, {}
        inserted: dict[tuple[str, str], int] = {}
        for chunk in chunked(list(rows.values())):
            params = tuple(row[column] for row in chunk for column in INBOX_COLUMNS)
            for row_id, channel_id, ts in conn.exec_driver_sql(sql.enqueue(len(chunk)), params):
                inserted[(channel_id, ts)] = row_id
        starts: dict[str, TurnStart | None] = {}
        if claim_inline:
            for skey in sorted({rows[pair]["thread_key"] for pair in inserted} & set(owners) - busy):
                starts[skey] = self._start_turn_tx(conn, ThreadKey.parse(skey), owners[skey], now)
        return inserted, busy, starts

    async def _claim_new_threads(
        self, unclaimed: dict[str, tuple[str, asyncio.Future[TurnStart | None], list[dict[str, Any]]]]
    ) -> None:
        """A burst's new threads, claimed together (one row each in three statements); a thread that
        already existed is left to its worker (the future resolves to None). Behind the inbox in the
        database's queue: acknowledging the rest of the burst comes first."""
        await self.arrivals.calm()
        now = time.time()
        claims = {
            k: (owner, mine[-1]["user_id"], [row["id"] for row in mine])
            for k, (owner, _, mine) in unclaimed.items()
        }
        try:
            turn_ids = await self.db.write(lambda conn: self._claim_tx(conn, claims, now))
        except Exception:
            log.exception("claiming a burst of new threads failed; their workers claim them instead")
            turn_ids = {}
        for k, (_, future, mine) in unclaimed.items():
            if not future.done():
                future.set_result(self._fresh_start(k, turn_ids[k], mine) if k in turn_ids else None)

    def _claim_tx(
        self, conn: Connection, claims: dict[str, tuple[str, str, list[int]]], now: float
    ) -> dict[str, str]:
        """Create and lease each thread (key -> (owner, user, inbox row ids)) that does not exist yet,
        start its first turn and claim those messages; returns the new turns' ids."""
        sql = self.sql
        fresh = [
            self._new_thread_params(ThreadKey.parse(k), owner, now)
            for k, (owner, _, _) in sorted(claims.items())
        ]
        created = [r.key for r in conn.execute(sql.new_thread, fresh)]
        if not created:
            return {}
        turn_ids = {k: uuid.uuid4().hex for k in created}
        conn.execute(
            sql.new_turn,
            [
                {
                    "p_turn": turn_ids[k],
                    "p_key": k,
                    "p_generation": 0,
                    "p_owner": claims[k][0],
                    "p_user": claims[k][1],
                    "p_now": now,
                }
                for k in created
            ],
        )
        conn.execute(
            sql.claim,
            [
                {"p_id": row_id, "p_turn": turn_ids[k], "p_now": now}
                for k in created
                for row_id in claims[k][2]
            ],
        )
        return turn_ids

    async def warm_up(self, owner: str) -> None:
        """Run the inbound hot path once, in a transaction that is rolled back. SQLAlchemy compiles a
        statement on its first use (the first message after a start took 5 ms instead of 1): that cost
        is paid here, not by the first people to write, nor by every message of a first burst."""
        now = time.time()
        # Two threads per path, so executemany runs as it does for real (one row is a plain execute).
        keys = [ThreadKey("T-warm-up", "C-warm-up", f"{n}.000000") for n in range(4)]
        rows = {
            (k.channel_id, k.thread_ts): inbox_row(
                Inbound(k, k.thread_ts, "U0", "", InboundKind.MENTION), now, str(k)
            )
            for k in keys
        }

        def tx(conn: Connection) -> None:
            inline = {str(k): owner for k in keys[:2]}
            inserted, _, _ = self._insert_tx(conn, rows, set(), inline, now, claim_inline=True)
            claims = {str(k): (owner, "U0", [inserted[(k.channel_id, k.thread_ts)]]) for k in keys[2:]}
            self._claim_tx(conn, claims, now)
            raise RolledBack

        with contextlib.suppress(RolledBack):
            await self.db.write(tx)

    @staticmethod
    def _fresh_start(skey: str, turn_id: str, mine: list[dict[str, Any]]) -> TurnStart:
        """The first turn of a thread claimed in a burst: its messages, nothing before them."""
        items = tuple(inbox_item(row) for row in sorted(mine, key=lambda row: float(row["ts"])))
        state = ThreadState(ThreadKey.parse(skey), 0, None, None, False, 0)
        return TurnStart(thread=state, turn_id=turn_id, items=items)

    async def mark_event_processed(self, event_id: str) -> bool:
        """Dedupe for events that do not create inbox rows. True the first time an id is seen."""

        def tx(conn: Connection) -> Any:
            result = conn.execute(
                self.db.insert(processed_events)
                .values(event_id=event_id, received_at=time.time())
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(processed_events.c.event_id)
            )
            return result.first() is not None

        return await self.db.write(tx)

    async def pending_count(self) -> int:
        def tx(conn: Connection) -> Any:
            value = conn.scalar(select(func.count()).select_from(inbox).where(inbox.c.state == "pending"))
            return int(value or 0)

        return await self.db.read(tx)

    async def retry_failed(self, key: ThreadKey) -> int:
        """Put the thread's failed messages back in the inbox (the Retry button, or a new message)."""
        now = time.time()

        def tx(conn: Connection) -> Any:
            result = conn.execute(
                update(inbox)
                .where(inbox.c.thread_key == str(key), inbox.c.state == "failed")
                .values(state="pending", turn_id=None, updated_at=now)
            )
            return int(result.rowcount or 0)

        return await self.db.write(tx)

    async def thread_frontier(self, key: ThreadKey) -> tuple[str | None, set[str]]:
        """The newest message of the thread the bot has already taken up (None when none yet), and
        every message ts stored for it: what `Engine` compares with Slack to find lost deliveries."""

        def tx(conn: Connection) -> tuple[str | None, set[str]]:
            rows = conn.execute(select(inbox.c.ts, inbox.c.state).where(inbox.c.thread_key == str(key))).all()
            taken = [r.ts for r in rows if r.state != "pending"]
            return (max(taken, key=float) if taken else None), {r.ts for r in rows}

        return await self.db.read(tx)
