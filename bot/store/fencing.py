"""Fencing: a turn writes only while its process still owns the turn and the thread's lease.

A lease is renewed by heartbeat; a replica cut off from the database longer than the lease cannot
renew it, and another replica takes the thread over (and resumes or closes the turn). When the cut-off
replica comes back it must not write as if nothing happened: a history save would overwrite what the
new owner saved, a "posted" mark would make the new owner treat a re-run turn as answered, a finish
would close a turn someone else is running. So every write of a running turn carries the owner and
checks, inside the statement, that the turn is still running under that owner and that the thread's
lease is still that owner's. A write refused that way raises `TurnFenced`; the turn then stops
quietly (the new owner answers).
"""

from __future__ import annotations

from sqlalchemy import Float, String, and_, bindparam, exists
from sqlalchemy.sql.elements import ColumnElement

from bot.store.schema import threads, turns


class TurnFenced(Exception):
    """This process no longer owns the turn (or the thread's lease): the write was refused."""

    def __init__(self, turn_id: str) -> None:
        super().__init__(f"turn {turn_id} is no longer this process's: another replica took its thread over")
        self.turn_id = turn_id


def owns_turn() -> ColumnElement[bool]:
    """The fence, for a statement on `turns` with parameters `p_turn` and `p_owner`: the turn is still
    running, under `p_owner`, which still holds its thread's lease."""
    turn = bindparam("p_turn", type_=String())
    owner = bindparam("p_owner", type_=String())
    return and_(
        turns.c.id == turn,
        turns.c.owner == owner,
        turns.c.state == "running",
        exists().where(threads.c.key == turns.c.thread_key, threads.c.lease_owner == owner),
    )


def lease_live() -> ColumnElement[bool]:
    """For the write that precedes a post (`p_owner`, `p_now`): the lease has not run out. A lease still
    named after a stalled owner but expired may be taken by another replica at any moment; posting
    under it is how a stalled replica came to answer beside the new owner (the soak suite)."""
    owner = bindparam("p_owner", type_=String())
    now = bindparam("p_now", type_=Float())
    return exists().where(
        threads.c.key == turns.c.thread_key, threads.c.lease_owner == owner, threads.c.lease_expires > now
    )
