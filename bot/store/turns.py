"""Turns: one at a time per thread, claimed under the thread's lease, recovered after a crash or a
restart, closed with their usage."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from bot.model import ThreadKey, Usage
from bot.store.base import StoreBase
from bot.store.database import ANSWER
from bot.store.fencing import TurnFenced
from bot.store.records import (
    InterruptedTurn,
    Resumed,
    StoredFile,
    ThreadState,
    TurnStart,
    UnsureTurn,
    inbox_item,
    stored_file,
    usage_row,
)
from bot.store.schema import inbox, messages, threads, turns


class TurnStore(StoreBase):
    """Per-thread turns under a lease: claiming the pending messages of a thread for a turn, recovering
    turns a dead owner left, stop requests, and closing a turn (fenced: see fencing.py)."""

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
            stored = tuple(stored_file(r) for r in conn.execute(sql.thread_files, p))
        items = tuple(inbox_item(r._mapping) for r in waiting)
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
        items = tuple(inbox_item(r._mapping) for r in conn.execute(sql.turn_items, q))
        history = tuple(
            {"role": r.role, "content": json.loads(r.content)} for r in conn.execute(sql.history_before, q)
        )
        saved = tuple(
            {"role": r.role, "content": json.loads(r.content)} for r in conn.execute(sql.turn_messages, q)
        )
        stored = tuple(stored_file(r) for r in conn.execute(sql.thread_files, p))
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
        caller asks Slack (and marks what it finds as interrupted), then calls `resolve_interrupted`.
        """
        found: list[InterruptedTurn] = []
        unsure: list[UnsureTurn] = []
        for turn in conn.execute(self.sql.stale_turns, p).all():
            if turn.posted_output:
                unsure.append(UnsureTurn(turn.id, turn.last_answer_ts))
                continue
            self._close_interrupted(conn, turn.id, now=now)
            found.append(InterruptedTurn(turn.id, False))
        return tuple(found), tuple(unsure)

    @staticmethod
    def _close_interrupted(conn: Connection, turn_id: str, *, now: float) -> None:
        """Roll the turn back: what it saved is dropped and its messages wait again, in their place."""
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
        """Close an unsure interrupted turn and put its messages back to run again. `posted`: people saw
        part of its answer (the caller marked it interrupted); the new turn says it answers again.

        A partial answer is never the answer: a person cannot tell which of their questions it covered,
        and asking them to send it again loses the message if they do not (the soak suite counted
        such messages as lost)."""
        now = time.time()
        await self.db.write(lambda conn: self._close_interrupted(conn, turn_id, now=now))
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
        now = time.time()
        params = {"p_turn": turn_id, "p_owner": owner, "p_now": now}

        def tx(conn: Connection) -> Any:
            marked = conn.execute(self.sql.mark_posted, params).first()
            if marked is not None:
                # A full lease from here: what is about to be posted lands before anyone may take the
                # thread over and ask Slack what this turn showed.
                conn.execute(
                    update(threads)
                    .where(threads.c.key == marked.thread_key, threads.c.lease_owner == owner)
                    .values(lease_expires=now + self.lease_seconds)
                )
            return marked

        if await self.db.write(tx, priority=ANSWER) is None:
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
                conn.execute(sql.add_usage, usage_row(turn_id, key, user_id, model, turn_usage, now, outcome))
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
        row = usage_row(turn_id, key, user_id, model, turn_usage, time.time(), "lost")
        await self.db.write(lambda conn: conn.execute(self.sql.add_usage, row))

    async def running_turns(self, user_id: str | None = None) -> list[tuple[ThreadKey, float]]:
        stmt = select(turns.c.thread_key, turns.c.started_at).where(turns.c.state == "running")
        if user_id is not None:
            stmt = stmt.where(turns.c.user_id == user_id)

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt.order_by(turns.c.started_at)).all()

        rows = await self.db.read(tx)
        return [(ThreadKey.parse(r.thread_key), r.started_at) for r in rows]
