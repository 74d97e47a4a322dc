"""Inbox rows the database refuses: telling a bad row from a failing database, and what can be saved.

The inbox stores a burst of messages in one INSERT, so one row the database will not take fails the
whole batch. That must not cost the other messages (each is acknowledged to Slack only once stored,
and Slack would deliver the whole batch again, to fail again), nor be retried for ever: a row that is
refused for what it holds is stored without what offends (a NUL character), or dropped and logged.
A database that is down is another matter: then nothing is stored and Slack delivers again later.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import exc as sa_exc

from bot.model import Inbound

# SQLSTATE classes of errors caused by the values of a row: 22 data exception (PostgreSQL's
# "invalid byte sequence for encoding UTF8: 0x00", a value too long for its column), 23 integrity
# constraint violation (postgresql.org/docs/current/errcodes-appendix.html).
ROW_SQLSTATE_CLASSES = ("22", "23")


def refused_row(error: BaseException) -> bool:
    """True when the database refused a statement for the values it carried (so another row of the
    same batch would have been taken), not because it is unreachable or broken."""
    if isinstance(error, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ROW_SQLSTATE_CLASSES


def describe(error: BaseException) -> str:
    """The error for the log, without the statement's parameters (people's messages)."""
    orig = getattr(error, "orig", None) or error
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return f"{type(orig).__name__} (SQLSTATE {sqlstate})"
    # SQLite's messages name the constraint or the column, never a value.
    return f"{type(orig).__name__}: {orig}"


def sanitised(inbound: Inbound) -> Inbound | None:
    """The message without the character PostgreSQL cannot store in text: NUL, which Slack's JSON can
    carry as \\u0000 (postgresql.org/docs/current/datatype-character.html: "the character with code
    zero cannot be stored"). None when the text has none (nothing to save it with). A person never
    sees a NUL, so the message reads the same without it."""
    if "\x00" not in inbound.text:
        return None
    return replace(inbound, text=inbound.text.replace("\x00", ""))
