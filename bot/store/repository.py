"""The store: durable inbox, per-thread leases, history, files, turns and usage.

Each public method is one transaction, so the engine's hot path costs a handful of short writes per
turn. Inbound messages are written in small group commits (`enqueue`): a burst of events from Slack
becomes one INSERT, which keeps Socket Mode acks fast even on SQLite.

Leases make "one turn at a time per thread" hold across processes: a thread row carries the owner
and an expiry that the owner's heartbeat renews. Releasing is done in the order that cannot strand
a message: drop the lease first, then look for pending rows (a replica that inserts a row and then
fails to take the lease can rely on the holder seeing it after its release).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey, Usage
from bot.store.arrivals import Arrivals
from bot.store.bad_rows import describe, refused_row, sanitised
from bot.store.commands import Commands
from bot.store.database import ANSWER, INBOX, Database
from bot.store.fencing import TurnFenced
from bot.store.schema import files, inbox, messages, processed_events, replicas, threads, turns, usage
from bot.store.statements import ENQUEUE_CHUNK, INBOX_COLUMNS, Statements
from bot.store.twins import Twins, join_in_batch

log = logging.getLogger(__name__)
T = TypeVar("T")

# A batch this small also claims its threads' turns in its own transaction (see Store.enqueue).
SMALL_BATCH = 8


class _RolledBack(Exception):
    """Raised to roll a transaction back on purpose (see Store.warm_up)."""


def _dumps(value: Any) -> str:
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
    """A turn whose owner died. `posted_output`: people saw part of its answer, so it is not re-run."""

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


@dataclass
class _PendingEnqueue:
    inbound: Inbound
    claim_for: str | None
    in_conversation_only: bool
    future: asyncio.Future[Enqueued] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Store:
    def __init__(self, db: Database, *, lease_seconds: float = 30.0) -> None:
        self.db = db
        self.sql = Statements(db.insert, numbered=not db.is_sqlite)
        self.lease_seconds = lease_seconds
        self.commands = Commands(db, lease_seconds=lease_seconds)
        self._pending: list[_PendingEnqueue] = []
        self._flusher: asyncio.Task[None] | None = None
        self._claims: set[asyncio.Task[None]] = set()
        self.twins = Twins(db, db.insert, _inbox_row)  # the two events of a mention (twins.py)
        self.arrivals = Arrivals()

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await asyncio.gather(*self._claims, return_exceptions=True)
        await self.db.close()

    # --- inbox ------------------------------------------------------------------------------------

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
                rows[pair] = _inbox_row(item.inbound, now, skey)
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
            for chunk in _chunks(keys)
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
        for chunk in _chunks(list(rows.values())):
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

    def _new_thread_params(self, key: ThreadKey, owner: str, now: float) -> dict[str, Any]:
        """Parameters of `new_thread`: the thread created already leased to `owner`."""
        return {
            "p_key": str(key),
            "p_team": key.team_id,
            "p_channel": key.channel_id,
            "p_thread_ts": key.thread_ts,
            "p_owner": owner,
            "p_now": now,
            "p_created": now,
            "p_updated": now,
            "p_expires": now + self.lease_seconds,
        }

    async def warm_up(self, owner: str) -> None:
        """Run the inbound hot path once, in a transaction that is rolled back. SQLAlchemy compiles a
        statement on its first use (the first message after a start took 5 ms instead of 1): that cost
        is paid here, not by the first people to write, nor by every message of a first burst."""
        now = time.time()
        # Two threads per path, so executemany runs as it does for real (one row is a plain execute).
        keys = [ThreadKey("T-warm-up", "C-warm-up", f"{n}.000000") for n in range(4)]
        rows = {
            (k.channel_id, k.thread_ts): _inbox_row(
                Inbound(k, k.thread_ts, "U0", "", InboundKind.MENTION), now, str(k)
            )
            for k in keys
        }

        def tx(conn: Connection) -> None:
            inline = {str(k): owner for k in keys[:2]}
            inserted, _, _ = self._insert_tx(conn, rows, set(), inline, now, claim_inline=True)
            claims = {str(k): (owner, "U0", [inserted[(k.channel_id, k.thread_ts)]]) for k in keys[2:]}
            self._claim_tx(conn, claims, now)
            raise _RolledBack

        with contextlib.suppress(_RolledBack):
            await self.db.write(tx)

    @staticmethod
    def _fresh_start(skey: str, turn_id: str, mine: list[dict[str, Any]]) -> TurnStart:
        """The first turn of a thread claimed in a burst: its messages, nothing before them."""
        items = tuple(_inbox_item(row) for row in sorted(mine, key=lambda row: float(row["ts"])))
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

    async def ping(self) -> None:
        """A trivial query: raises when the database is unreachable (readiness)."""
        await self.db.read(lambda conn: conn.execute(select(1)).scalar())

    async def pending_count(self) -> int:
        def tx(conn: Connection) -> Any:
            value = conn.scalar(select(func.count()).select_from(inbox).where(inbox.c.state == "pending"))
            return int(value or 0)

        return await self.db.read(tx)

    # --- leases and turns -------------------------------------------------------------------------

    async def start_turn(self, key: ThreadKey, owner: str) -> TurnStart | None:
        """Take (or keep) the thread's lease and claim every pending message for one new turn, with
        the thread's history and files: one transaction, the first of a turn's four writes.

        Returns None when another live owner holds the lease: it drains the inbox itself. With nothing
        pending, the lease is given up again in the same transaction (`turn_id` is None).
        """
        return await self.db.write(lambda conn: self._start_turn_tx(conn, key, owner, time.time()))

    def _start_turn_tx(self, conn: Connection, key: ThreadKey, owner: str, now: float) -> TurnStart | None:
        sql = self.sql
        p: dict[str, Any] = {
            "p_key": str(key),
            "p_owner": owner,
            "p_now": now,
            "p_expires": now + self.lease_seconds,
        }

        row = conn.execute(sql.take_lease, p).first()
        fresh = False
        if row is None:
            created = conn.execute(sql.new_thread, self._new_thread_params(key, owner, now)).first()
            if created is None:
                return None  # it exists, leased by someone else
            fresh = True
        state = ThreadState(
            key=key,
            generation=row.generation if row else 0,
            container_id=row.container_id if row else None,
            container_expires_at=row.container_expires_at if row else None,
            context_loaded=bool(row.context_loaded) if row else False,
            trimmed_blocks=row.trimmed_blocks if row else 0,
        )
        interrupted, unsure = ((), ()) if fresh else self._recover_interrupted(conn, p, now)
        if unsure:
            return TurnStart(thread=state, turn_id=None, items=(), interrupted=interrupted, unsure=unsure)
        resumed = None if fresh else self._resume_suspended(conn, p, state, interrupted, now)
        if resumed is not None:
            return resumed
        waiting = conn.execute(sql.waiting, p).all()
        if not any(r.state == "pending" for r in waiting):
            # Failed messages alone never start a turn (that would retry forever); the Retry
            # button or the next message does. Nothing to do: give the lease back.
            conn.execute(sql.release, p)
            return TurnStart(thread=state, turn_id=None, items=(), interrupted=interrupted)
        turn_id = uuid.uuid4().hex
        claim = {**p, "p_turn": turn_id, "p_generation": state.generation, "p_user": waiting[-1].user_id}
        conn.execute(sql.new_turn, claim)
        conn.execute(sql.claim, [{"p_id": r.id, "p_turn": turn_id, "p_now": now} for r in waiting])
        history: tuple[dict[str, Any], ...] = ()
        stored: tuple[StoredFile, ...] = ()
        if not fresh:
            if not state.context_loaded:
                conn.execute(sql.context_loaded, p)
            history = tuple(
                {"role": r.role, "content": json.loads(r.content)} for r in conn.execute(sql.history, claim)
            )
            stored = tuple(_stored_file(r) for r in conn.execute(sql.thread_files, p))
        items = tuple(_inbox_item(r._mapping) for r in waiting)
        return TurnStart(state, turn_id, items, interrupted, history, stored)

    def _resume_suspended(
        self,
        conn: Connection,
        p: dict[str, Any],
        state: ThreadState,
        interrupted: tuple[InterruptedTurn, ...],
        now: float,
    ) -> TurnStart | None:
        """The thread's turn a clean shutdown suspended, taken up by this owner: the same turn, with the
        messages it had claimed, the history before it and what it had saved itself. It is closed
        instead when, meanwhile, someone pressed Stop on it or started a New session (its question
        belonged to the conversation forgotten)."""
        sql = self.sql
        turn = conn.execute(sql.suspended_turn, p).first()
        if turn is None:
            return None
        if turn.generation != state.generation or turn.stop_requested_by is not None:
            outcome = "reset" if turn.generation != state.generation else "stopped"
            conn.execute(update(inbox).where(inbox.c.turn_id == turn.id).values(state="done", updated_at=now))
            conn.execute(
                update(turns)
                .where(turns.c.id == turn.id)
                .values(state="stopped", outcome=outcome, finished_at=now)
            )
            return None
        q = {**p, "p_turn": turn.id, "p_generation": state.generation}
        conn.execute(sql.resume_turn, q)
        items = tuple(_inbox_item(r._mapping) for r in conn.execute(sql.turn_items, q))
        history = tuple(
            {"role": r.role, "content": json.loads(r.content)} for r in conn.execute(sql.history_before, q)
        )
        saved = tuple(
            {"role": r.role, "content": json.loads(r.content)} for r in conn.execute(sql.turn_messages, q)
        )
        stored = tuple(_stored_file(r) for r in conn.execute(sql.thread_files, p))
        return TurnStart(
            state, turn.id, items, interrupted, history, stored, resumed=Resumed(saved, turn.stop_reason)
        )

    def _recover_interrupted(
        self, conn: Connection, p: dict[str, Any], now: float
    ) -> tuple[tuple[InterruptedTurn, ...], tuple[UnsureTurn, ...]]:
        """Turns left running by a dead owner or a crashed worker (we hold the lease now, and our
        worker starts one turn at a time, so they cannot be live).

        A turn that had shown nothing is rolled back and its messages go back to the inbox, so it is
        re-run from the stored history. One that may have posted output is returned as unsure: the
        caller asks Slack, then calls `resolve_interrupted`.
        """
        found: list[InterruptedTurn] = []
        unsure: list[UnsureTurn] = []
        for turn in conn.execute(self.sql.stale_turns, p).all():
            if turn.posted_output:
                unsure.append(UnsureTurn(turn.id, turn.last_answer_ts))
                continue
            self._close_interrupted(conn, turn.id, posted=False, now=now)
            found.append(InterruptedTurn(turn.id, False))
        return tuple(found), tuple(unsure)

    @staticmethod
    def _close_interrupted(conn: Connection, turn_id: str, *, posted: bool, now: float) -> None:
        if posted:
            conn.execute(update(inbox).where(inbox.c.turn_id == turn_id).values(state="done", updated_at=now))
        else:
            conn.execute(delete(messages).where(messages.c.turn_id == turn_id))
            conn.execute(
                update(inbox)
                .where(inbox.c.turn_id == turn_id)
                .values(state="pending", turn_id=None, updated_at=now)
            )
        conn.execute(
            update(turns)
            .where(turns.c.id == turn_id)
            .values(state="interrupted", outcome="interrupted", finished_at=now)
        )

    async def resolve_interrupted(self, turn_id: str, *, posted: bool) -> InterruptedTurn:
        """Close an unsure interrupted turn: kept as answered in part, or put back to run again."""
        now = time.time()
        await self.db.write(lambda conn: self._close_interrupted(conn, turn_id, posted=posted, now=now))
        return InterruptedTurn(turn_id, posted)

    async def request_stop(self, key: ThreadKey, user_id: str, *, turn_id: str | None = None) -> bool:
        """Ask the thread's running turn (`turn_id`, when given) to stop, wherever it runs, or its
        suspended one not to go on after the restart. False when nothing (that turn) is running."""
        stmt = update(turns).where(
            turns.c.thread_key == str(key), turns.c.state.in_(["running", "suspended"])
        )
        if turn_id is not None:
            stmt = stmt.where(turns.c.id == turn_id)

        def tx(conn: Connection) -> Any:
            result = conn.execute(stmt.values(stop_requested_by=user_id))
            return bool(result.rowcount)

        return await self.db.write(tx)

    async def stop_requests(self, owner: str) -> list[tuple[ThreadKey, str]]:
        """Stops requested for this owner's running turns (polled by the owner)."""

        def tx(conn: Connection) -> Any:
            rows = conn.execute(
                select(turns.c.thread_key, turns.c.stop_requested_by).where(
                    turns.c.owner == owner, turns.c.state == "running", turns.c.stop_requested_by.is_not(None)
                )
            )
            return [(ThreadKey.parse(r.thread_key), r.stop_requested_by) for r in rows]

        return await self.db.read(tx)

    async def suspend_turn(self, turn_id: str, owner: str) -> None:
        """A clean shutdown: the turn stops where it is and keeps its claimed messages and saved
        responses, to be resumed by whichever process takes its thread next (`start_turn`), not run
        again nor closed as interrupted. Raises TurnFenced when the turn is no longer `owner`'s."""
        params = {"p_turn": turn_id, "p_owner": owner}
        if (
            await self.db.write(lambda conn: conn.execute(self.sql.suspend, params).first(), priority=ANSWER)
            is None
        ):
            raise TurnFenced(turn_id)

    async def mark_posted(self, turn_id: str, owner: str) -> None:
        """People are about to see part of this turn's answer; from here on it must never be re-run.
        Raises TurnFenced when the turn is no longer `owner`'s (then nothing may be posted)."""
        params = {"p_turn": turn_id, "p_owner": owner}
        marked = await self.db.write(
            lambda conn: conn.execute(self.sql.mark_posted, params).first(), priority=ANSWER
        )
        if marked is None:
            raise TurnFenced(turn_id)

    async def finish_turn(
        self,
        turn_id: str,
        key: ThreadKey,
        *,
        owner: str,
        outcome: str,
        user_id: str,
        model: str,
        turn_usage: Usage,
        requeue: bool = False,
        answer_ts: str | None = None,
    ) -> bool:
        """Close a turn and record its usage; then keep the lease if messages are waiting (returns True:
        the caller starts the next turn) or give it up, in the same transaction.

        `requeue` marks the turn's messages failed (nothing was answered; a later turn picks them up).
        Raises TurnFenced (nothing written) when the turn is no longer `owner`'s.
        """
        now = time.time()
        sql = self.sql
        p: dict[str, Any] = {
            "p_key": str(key),
            "p_owner": owner,
            "p_turn": turn_id,
            "p_now": now,
            "p_expires": now + self.lease_seconds,
            "p_state": {"stopped": "stopped", "failed": "failed"}.get(outcome, "done"),
            "p_outcome": outcome,
            "p_inbox_state": "failed" if requeue else "done",
            "p_answer_ts": answer_ts,
        }

        def tx(conn: Connection) -> bool | None:
            if conn.execute(sql.close_turn, p).first() is None:
                return None
            conn.execute(sql.close_messages, p)
            if answer_ts is not None:
                conn.execute(sql.answered, p)
            if turn_usage.requests:
                conn.execute(sql.add_usage, _usage_row(turn_id, key, user_id, model, turn_usage, now))
            kept = conn.execute(sql.release_unless_waiting, p).first()
            return kept is not None and kept.lease_owner is not None

        kept = await self.db.write(tx)
        if kept is None:
            raise TurnFenced(turn_id)
        return kept

    async def record_usage(
        self, turn_id: str, key: ThreadKey, *, user_id: str, model: str, turn_usage: Usage
    ) -> None:
        """The tokens of a turn that cannot be finished here (it lost its thread to another replica):
        they were spent all the same, and the operator's usage record must show them."""
        if not turn_usage.requests:
            return
        row = _usage_row(turn_id, key, user_id, model, turn_usage, time.time())
        await self.db.write(lambda conn: conn.execute(self.sql.add_usage, row))

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

    async def heartbeat(self, owner: str, *, recent_seconds: float) -> bool:
        """Record that this process is alive; True when another process was seen within
        `recent_seconds` (a live peer, or a predecessor that stopped without saying goodbye)."""
        now = time.time()

        def tx(conn: Connection) -> bool:
            conn.execute(
                self.db.insert(replicas)
                .values(owner=owner, started_at=now, seen_at=now)
                .on_conflict_do_update(index_elements=["owner"], set_={"seen_at": now})
            )
            other = conn.scalar(
                select(replicas.c.owner)
                .where(replicas.c.owner != owner, replicas.c.seen_at > now - recent_seconds)
                .limit(1)
            )
            conn.execute(delete(replicas).where(replicas.c.seen_at < now - 7 * 86400))
            return other is not None

        return await self.db.write(tx)

    async def goodbye(self, owner: str) -> None:
        """A clean shutdown: nothing was lost with this process, peers need not look for it."""
        await self.db.write(lambda conn: conn.execute(delete(replicas).where(replicas.c.owner == owner)))

    async def renew_leases(self, owner: str, keys: Iterable[ThreadKey]) -> set[ThreadKey]:
        """Extend this owner's leases on the threads it is working on, and return those it still holds.
        Only those threads: one whose worker is gone (it crashed) must see its lease expire so that the
        sweeper restarts it. A thread missing from the answer was taken over by another replica while
        this one could not renew (cut off from the database): its turn must stop (see fencing.py)."""
        now = time.time()
        skeys = [str(k) for k in keys]

        def tx(conn: Connection) -> Any:
            return conn.execute(
                update(threads)
                .where(threads.c.lease_owner == owner, threads.c.key.in_(skeys))
                .values(lease_expires=now + self.lease_seconds)
                .returning(threads.c.key)
            ).all()

        return {ThreadKey.parse(r.key) for r in await self.db.write(tx)}

    async def release_all(self, owner: str) -> None:
        """On clean shutdown: let another replica take over at once instead of after the expiry."""

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(threads)
                .where(threads.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )

        await self.db.write(tx)

    async def orphaned_threads(self, limit: int = 500) -> list[ThreadKey]:
        """Threads with pending messages, or a running or suspended turn, and no live lease: work to
        (re)start or resume."""
        now = time.time()
        no_live_lease = or_(threads.c.lease_owner.is_(None), threads.c.lease_expires < now)

        def tx(conn: Connection) -> Any:
            pending = conn.execute(
                select(inbox.c.thread_key)
                .outerjoin(threads, threads.c.key == inbox.c.thread_key)
                .where(inbox.c.state == "pending", or_(threads.c.key.is_(None), no_live_lease))
                .distinct()
                .limit(limit)
            )
            running = conn.execute(
                select(turns.c.thread_key)
                .join(threads, threads.c.key == turns.c.thread_key)
                .where(turns.c.state.in_(["running", "suspended"]), no_live_lease)
                .distinct()
                .limit(limit)
            )
            return {r.thread_key for r in pending} | {r.thread_key for r in running}

        found = await self.db.read(tx)
        return [ThreadKey.parse(k) for k in sorted(found)]

    async def running_turns(self, user_id: str | None = None) -> list[tuple[ThreadKey, float]]:
        stmt = select(turns.c.thread_key, turns.c.started_at).where(turns.c.state == "running")
        if user_id is not None:
            stmt = stmt.where(turns.c.user_id == user_id)

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt.order_by(turns.c.started_at)).all()

        rows = await self.db.read(tx)
        return [(ThreadKey.parse(r.thread_key), r.started_at) for r in rows]

    # --- history ----------------------------------------------------------------------------------

    async def save_turn(
        self,
        key: ThreadKey,
        generation: int,
        turn_id: str,
        turn_messages: Iterable[dict[str, Any]],
        *,
        container_id: str | None = None,
        container_expires_at: str | None = None,
        forget_container: bool = False,
        stop_reason: str | None = None,
        owner: str,
    ) -> None:
        """Store a turn's messages so far (after every model response) and the container.

        The turn's rows are replaced as a whole: after a container reset mid-turn its earlier responses
        are gone from the conversation, and the store must say the same. `stop_reason` (of the last
        response) is where the turn goes on from if it is resumed after a restart. Raises TurnFenced
        (nothing saved) when the turn is no longer `owner`'s."""
        now = time.time()
        rows = [
            {
                "thread_key": str(key),
                "generation": generation,
                "turn_id": turn_id,
                "role": m["role"],
                "content": _dumps(m["content"]),
                "created_at": now,
            }
            for m in turn_messages
        ]
        sql = self.sql
        p = {
            "p_key": str(key),
            "p_turn": turn_id,
            "p_generation": generation,
            "p_container": container_id,
            "p_expires_at": container_expires_at,
            "p_now": now,
            "p_owner": owner,
            "p_stop": stop_reason,
        }

        def tx(conn: Connection) -> bool:
            if conn.execute(sql.fence_save, p).first() is None:
                return False
            conn.execute(sql.drop_turn_messages, p)
            if rows:
                conn.execute(sql.add_messages, rows)
            if container_id is not None or forget_container:
                conn.execute(sql.keep_container, p)
            return True

        if not await self.db.write(tx, priority=ANSWER):
            raise TurnFenced(turn_id)

    async def update_thread(self, key: ThreadKey, *, trimmed_blocks: int) -> None:
        values = {"trimmed_blocks": trimmed_blocks, "updated_at": time.time()}

        def tx(conn: Connection) -> Any:
            conn.execute(update(threads).where(threads.c.key == str(key)).values(**values))

        await self.db.write(tx)

    async def thread_frontier(self, key: ThreadKey) -> tuple[str | None, set[str]]:
        """The newest message of the thread the bot has already taken up (None when none yet), and
        every message ts stored for it: what `Engine` compares with Slack to find lost deliveries."""

        def tx(conn: Connection) -> tuple[str | None, set[str]]:
            rows = conn.execute(select(inbox.c.ts, inbox.c.state).where(inbox.c.thread_key == str(key))).all()
            taken = [r.ts for r in rows if r.state != "pending"]
            return (max(taken, key=float) if taken else None), {r.ts for r in rows}

        return await self.db.read(tx)

    async def reset_thread(self, key: ThreadKey) -> list[str]:
        """Start the thread's conversation over. Returns the Anthropic file ids to delete."""
        now = time.time()
        skey = str(key)

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(threads)
                .where(threads.c.key == skey)
                .values(
                    generation=threads.c.generation + 1,
                    container_id=None,
                    container_expires_at=None,
                    trimmed_blocks=0,
                    updated_at=now,
                )
            )
            gone = conn.execute(
                update(files)
                .where(files.c.thread_key == skey, files.c.deleted_at.is_(None))
                .values(deleted_at=now)
                .returning(files.c.anthropic_file_id)
            )
            return [r.anthropic_file_id for r in gone if r.anthropic_file_id]

        return await self.db.write(tx)

    # --- files ------------------------------------------------------------------------------------

    async def thread_files(self, key: ThreadKey, origin: str | None = "upload") -> list[StoredFile]:
        stmt = select(files).where(files.c.thread_key == str(key), files.c.deleted_at.is_(None))
        if origin is not None:
            stmt = stmt.where(files.c.origin == origin)

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt.order_by(files.c.id)).all()

        rows = await self.db.read(tx)
        return [_stored_file(r) for r in rows]

    async def record_file(self, key: ThreadKey, stored: StoredFile) -> None:
        """Record a file of the thread. A produced file's row (written when it appeared, see
        `record_outputs`) takes its name and size. A Slack file attached again after its earlier
        upload was deleted gets a new row; the old one stays, renamed, so that `deleted_files`
        still knows the deleted id (the history may name it)."""
        values = {
            "anthropic_file_id": stored.anthropic_file_id,
            "name": stored.name,
            "mimetype": stored.mimetype,
            "size": stored.size,
            "sha256": stored.sha256,
            "created_at": stored.created_at,
        }
        same = (
            files.c.thread_key == str(key),
            files.c.origin == stored.origin,
            files.c.source_id == stored.source_id,
        )

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(files)
                .where(*same, files.c.deleted_at.is_not(None))
                .values(
                    source_id=files.c.source_id + "#deleted:" + func.coalesce(files.c.anthropic_file_id, "")
                )
            )
            insert = self.db.insert(files).values(
                thread_key=str(key),
                origin=stored.origin,
                source_id=stored.source_id,
                slack_file_id=stored.slack_file_id,
                **values,
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["thread_key", "origin", "source_id"], set_=values
                )
            )

        await self.db.write(tx)

    async def record_outputs(self, key: ThreadKey, file_ids: Sequence[str]) -> None:
        """Files the sandbox made, recorded the moment their ids appear, whatever becomes of the
        turn (stopped, failed, reset): so New session and FILE_RETENTION_DAYS delete them too.
        Their names come later, when a finished turn downloads them (`record_file`)."""
        if not file_ids:
            return
        now = time.time()
        rows = [
            {
                "thread_key": str(key),
                "origin": "output",
                "source_id": file_id,
                "anthropic_file_id": file_id,
                "name": "",
                "mimetype": "",
                "size": 0,
                "sha256": "",
                "created_at": now,
            }
            for file_id in dict.fromkeys(file_ids)
        ]

        def tx(conn: Connection) -> Any:
            conn.execute(
                self.db.insert(files).on_conflict_do_nothing(
                    index_elements=["thread_key", "origin", "source_id"]
                ),
                rows,
            )

        await self.db.write(tx)

    async def deleted_files(self, key: ThreadKey) -> dict[str, str]:
        """The thread's deleted Anthropic file ids and their names: what its history must no longer
        send (see `bot.claude.file_refs`)."""
        stmt = select(files.c.anthropic_file_id, files.c.name).where(
            files.c.thread_key == str(key),
            files.c.deleted_at.is_not(None),
            files.c.anthropic_file_id.is_not(None),
        )

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt).all()

        return {r.anthropic_file_id: r.name for r in await self.db.read(tx)}

    async def expired_files(self, older_than: float, limit: int = 200) -> list[str]:
        """Anthropic ids of files kept longer than FILE_RETENTION_DAYS and not deleted yet."""

        def tx(conn: Connection) -> Any:
            rows = conn.execute(
                select(files.c.anthropic_file_id)
                .where(
                    files.c.deleted_at.is_(None),
                    files.c.created_at < older_than,
                    files.c.anthropic_file_id.is_not(None),
                )
                .limit(limit)
            )
            return [r.anthropic_file_id for r in rows]

        return await self.db.read(tx)

    async def mark_files_deleted(self, anthropic_file_ids: Sequence[str]) -> None:
        if not anthropic_file_ids:
            return

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(files)
                .where(files.c.anthropic_file_id.in_(list(anthropic_file_ids)), files.c.deleted_at.is_(None))
                .values(deleted_at=time.time())
            )

        await self.db.write(tx)

    # --- usage ------------------------------------------------------------------------------------

    async def usage_since(self, user_id: str, since: float) -> UsageSummary:
        def tx(conn: Connection) -> Any:
            return (
                conn.execute(
                    select(
                        func.count(usage.c.id),
                        func.coalesce(func.sum(usage.c.input_tokens), 0),
                        func.coalesce(func.sum(usage.c.output_tokens), 0),
                        func.coalesce(func.sum(usage.c.cache_read_tokens), 0),
                        func.coalesce(func.sum(usage.c.cache_write_tokens), 0),
                        func.coalesce(func.sum(usage.c.requests), 0),
                    ).where(usage.c.user_id == user_id, usage.c.created_at >= since)
                )
            ).one()

        row = await self.db.read(tx)
        return UsageSummary(
            turns=int(row[0]),
            usage=Usage(int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5])),
        )

    # --- housekeeping -----------------------------------------------------------------------------

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


def _stored_file(r: Any) -> StoredFile:
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


def _chunks(items: list[T]) -> list[list[T]]:
    """`items` in slices small enough for one statement's parameters (see ENQUEUE_CHUNK)."""
    return [items[first : first + ENQUEUE_CHUNK] for first in range(0, len(items), ENQUEUE_CHUNK)]


def _usage_row(
    turn_id: str, key: ThreadKey, user_id: str, model: str, turn_usage: Usage, now: float
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
    }


def _inbox_row(inbound: Inbound, now: float, thread_key: str) -> dict[str, Any]:
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
        "files": _dumps([f.to_json() for f in inbound.files]) if inbound.files else "[]",
        "wants_context": inbound.wants_thread_context,
        "awaiting_twin": inbound.awaits_twin,
        "state": "pending",
        "received_at": now,
        "updated_at": now,
    }


def _inbox_item(row: Mapping[Any, Any]) -> InboxItem:
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
