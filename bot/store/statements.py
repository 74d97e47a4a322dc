"""The statements of a turn's hot path, built once.

Building a SQLAlchemy statement (columns compared, clauses generated, cache key computed) costs more
CPU than SQLite takes to run it; the benchmark budget is 25 ms of bot CPU per turn, store included.
So the few statements every turn runs are constructed here once per dialect, with bound parameters
(named `p_*`: SQLAlchemy reserves column names for the SET clause of an UPDATE).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from bot.store.fencing import lease_live, owns_turn
from bot.store.schema import files, inbox, messages, threads, turns, usage

_WAITING = or_(inbox.c.state == "pending", inbox.c.state == "failed")
_PENDING_IN_THREAD = exists().where(
    inbox.c.thread_key == bindparam("p_key", type_=String()), inbox.c.state == "pending"
)
_STATE = (
    threads.c.generation,
    threads.c.container_id,
    threads.c.container_expires_at,
    threads.c.context_loaded,
    threads.c.trimmed_blocks,
)


# The inbox row's columns, in the order of `Statements.enqueue`'s placeholders.
INBOX_COLUMNS = (
    "thread_key",
    "channel_id",
    "ts",
    "event_id",
    "user_id",
    "user_team",
    "kind",
    "text",
    "files",
    "wants_context",
    "awaiting_twin",
    "state",
    "received_at",
    "updated_at",
)
# Rows per inbox INSERT: 14 parameters a row stays far below SQLite's 32,766 and PostgreSQL's 32,767.
ENQUEUE_CHUNK = 500


class Statements:
    def __init__(self, insert: Any, *, numbered: bool = False) -> None:
        """`insert` builds the dialect's INSERT (with on_conflict_do_nothing); `numbered` says the
        driver takes `$1` placeholders (asyncpg) rather than `?` (sqlite3)."""
        self.numbered = numbered
        self._enqueue: dict[int, str] = {}
        self._leases: dict[int, str] = {}
        key: BindParameter[str] = bindparam("p_key", type_=String())
        owner: BindParameter[str] = bindparam("p_owner", type_=String())
        now: BindParameter[float] = bindparam("p_now", type_=Float())
        # Take the lease of an existing thread when it is free, expired or already ours.
        self.take_lease = (
            update(threads)
            .where(
                threads.c.key == key,
                or_(
                    threads.c.lease_owner.is_(None),
                    threads.c.lease_owner == owner,
                    threads.c.lease_expires < now,
                ),
            )
            .values(lease_owner=owner, lease_expires=bindparam("p_expires", type_=Float()))
            .returning(*_STATE)
        )
        # A thread seen for the first time: created already leased (and with its context about to load).
        self.new_thread = (
            insert(threads)
            .values(
                key=key,
                team_id=bindparam("p_team", type_=String()),
                channel_id=bindparam("p_channel", type_=String()),
                thread_ts=bindparam("p_thread_ts", type_=String()),
                generation=0,
                context_loaded=True,
                trimmed_blocks=0,
                lease_owner=owner,
                lease_expires=bindparam("p_expires", type_=Float()),
                # Distinct names: executemany with RETURNING ("insertmanyvalues") on PostgreSQL
                # miscounts a parameter that appears twice in one row.
                created_at=bindparam("p_created", type_=Float()),
                updated_at=bindparam("p_updated", type_=Float()),
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(threads.c.key)
        )
        # A turn claims exactly the rows it was built from, by id. Claiming "every waiting row of the
        # thread" would also take a row another connection committed after the turn read its messages
        # (PostgreSQL's READ COMMITTED gives each statement a new snapshot): that message would be
        # marked part of a turn that never saw it, and never be answered.
        self.claim = (
            update(inbox)
            .where(inbox.c.id == bindparam("p_id", type_=Integer()), _WAITING)
            .values(state="claimed", turn_id=bindparam("p_turn", type_=String()), updated_at=now)
        )
        self.queued_threads = (
            select(inbox.c.thread_key)
            .where(inbox.c.thread_key.in_(bindparam("p_keys", expanding=True)))
            .distinct()
        )
        # A turn still "running" when its thread's lease is taken for a new one: its owner died, or
        # (the same owner) its worker crashed; either way nothing runs it any more.
        self.stale_turns = (
            select(turns.c.id, turns.c.posted_output, threads.c.last_answer_ts)
            .join(threads, threads.c.key == turns.c.thread_key)
            .where(turns.c.thread_key == key, turns.c.state == "running")
        )
        # A turn a clean shutdown suspended (see Store.suspend_turn), oldest first: it is resumed
        # before anything else of the thread, by whoever takes the thread next.
        self.suspended_turn = (
            select(turns.c.id, turns.c.generation, turns.c.stop_reason, turns.c.stop_requested_by)
            .where(turns.c.thread_key == key, turns.c.state == "suspended")
            .order_by(turns.c.started_at)
            .limit(1)
        )
        self.resume_turn = (
            update(turns)
            .where(turns.c.id == bindparam("p_turn", type_=String()), turns.c.state == "suspended")
            .values(state="running", owner=owner)
        )
        self.turn_items = (
            select(inbox)
            .where(inbox.c.turn_id == bindparam("p_turn", type_=String()), inbox.c.state == "claimed")
            .order_by(inbox.c.ts, inbox.c.id)
        )
        self.turn_messages = (
            select(messages.c.role, messages.c.content)
            .where(messages.c.turn_id == bindparam("p_turn", type_=String()))
            .order_by(messages.c.id)
        )
        self.history_before = (
            select(messages.c.role, messages.c.content)
            .where(
                messages.c.thread_key == key,
                messages.c.generation == bindparam("p_generation", type_=Integer()),
                messages.c.turn_id != bindparam("p_turn", type_=String()),
            )
            .order_by(messages.c.id)
        )
        self.waiting = (
            select(inbox).where(inbox.c.thread_key == key, _WAITING).order_by(inbox.c.ts, inbox.c.id)
        )
        self.new_turn = turns.insert().values(
            id=bindparam("p_turn", type_=String()),
            thread_key=key,
            generation=bindparam("p_generation", type_=Integer()),
            owner=owner,
            user_id=bindparam("p_user", type_=String()),
            state="running",
            posted_output=False,
            started_at=now,
        )
        self.context_loaded = update(threads).where(threads.c.key == key).values(context_loaded=True)
        self.history = (
            select(messages.c.role, messages.c.content)
            .where(
                messages.c.thread_key == key,
                messages.c.generation == bindparam("p_generation", type_=Integer()),
            )
            .order_by(messages.c.id)
        )
        self.thread_files = select(files).where(
            files.c.thread_key == key, files.c.deleted_at.is_(None), files.c.origin == "upload"
        )
        # The writes of a running turn are fenced (see fencing.py): each returns the turn's id only when
        # the turn still belongs to `p_owner`.
        self.mark_posted = (
            update(turns)
            .where(owns_turn(), lease_live())
            .values(posted_output=True)
            .returning(turns.c.id, turns.c.thread_key)
        )
        # A history save changes no turn column: this takes the turn's row (so a takeover waits for the
        # save, or the save sees the takeover) and says whether the turn is still ours.
        self.fence_save = (
            update(turns)
            .where(owns_turn())
            .values(stop_reason=bindparam("p_stop", type_=String()))
            .returning(turns.c.id)
        )
        self.suspend = update(turns).where(owns_turn()).values(state="suspended").returning(turns.c.id)
        self.drop_turn_messages = delete(messages).where(
            messages.c.turn_id == bindparam("p_turn", type_=String())
        )
        self.add_messages = messages.insert()
        self.keep_container = (
            update(threads)
            .where(threads.c.key == key, threads.c.generation == bindparam("p_generation", type_=Integer()))
            .values(
                container_id=bindparam("p_container", type_=String()),
                container_expires_at=bindparam("p_expires_at", type_=String()),
                updated_at=now,
            )
        )
        self.answered = (
            update(threads)
            .where(threads.c.key == key)
            .values(last_answer_ts=bindparam("p_answer_ts", type_=String()))
        )
        self.close_turn = (
            update(turns)
            .where(owns_turn())
            .values(
                state=bindparam("p_state", type_=String()),
                outcome=bindparam("p_outcome", type_=String()),
                finished_at=now,
            )
            .returning(turns.c.id)
        )
        self.close_messages = (
            update(inbox)
            .where(inbox.c.turn_id == bindparam("p_turn", type_=String()))
            .values(state=bindparam("p_inbox_state", type_=String()), updated_at=now)
        )
        self.add_usage = usage.insert()
        # Give the lease up unless messages are waiting, in one statement: a replica that stores a
        # message and then fails to take the lease (blocked on this row) sees either the lease kept,
        # because the message was seen, or the lease free, so it can take it. Nothing is stranded.
        self.release_unless_waiting = (
            update(threads)
            .where(and_(threads.c.key == key, threads.c.lease_owner == owner))
            .values(
                lease_owner=case((_PENDING_IN_THREAD, owner), else_=null()),
                lease_expires=case((_PENDING_IN_THREAD, bindparam("p_expires", type_=Float())), else_=null()),
            )
            .returning(threads.c.lease_owner)
        )
        self.release = (
            update(threads)
            .where(threads.c.key == key, threads.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires=None)
        )

    def enqueue(self, rows: int) -> str:
        """The inbox INSERT of `rows` rows (parameters: INBOX_COLUMNS, row after row), returning the
        id, channel and ts of each row stored; a row whose (channel, ts) is stored already is skipped.

        This and `thread_leases` are written as SQL for the driver, not built by SQLAlchemy: in a
        burst they are what every acknowledgement waits for, and SQLAlchemy's multi-row INSERT
        spent two thirds of its time in Python preparing parameters (about 1.3 of 2 ms for 130
        rows), holding the GIL the event loop needs to read the rest of the burst. Both dialects
        accept these statements as they are."""
        sql = self._enqueue.get(rows)
        if sql is None:
            sql = (
                f"INSERT INTO inbox ({', '.join(INBOX_COLUMNS)}) VALUES {self._values(rows, len(INBOX_COLUMNS))} "
                "ON CONFLICT (channel_id, ts) DO NOTHING RETURNING id, channel_id, ts"
            )
            self._enqueue[rows] = sql
        return sql

    def thread_leases(self, keys: int) -> str:
        """key, lease_owner and lease_expires of the threads among `keys` thread keys."""
        sql = self._leases.get(keys)
        if sql is None:
            sql = f"SELECT key, lease_owner, lease_expires FROM threads WHERE key IN {self._values(1, keys)}"
            self._leases[keys] = sql
        return sql

    def _values(self, rows: int, width: int) -> str:
        """`(?, ?), (?, ?)` for 2 rows of 2, or `($1, $2), ($3, $4)` for asyncpg."""
        if self.numbered:
            return ", ".join(
                "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
            )
        return ", ".join(["(" + ", ".join("?" * width) + ")"] * rows)
