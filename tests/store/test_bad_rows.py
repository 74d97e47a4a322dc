"""One message the database refuses must not cost the others of its batch, nor come back for ever."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot.model import Inbound, InboundKind, ThreadKey
from bot.store import Store
from bot.store.schema import inbox


def message(n: int, text: str | None = None, user_id: str = "U1") -> Inbound:
    key = ThreadKey("T1", "C1", f"{100 + n}.000001")
    return Inbound(
        key, key.thread_ts, user_id, text or f"question {n}", InboundKind.MENTION, event_id=f"Ev{n}"
    )


async def stored_texts(store: Store) -> dict[str, str]:
    rows = await store.db.read(lambda conn: conn.execute(select(inbox.c.ts, inbox.c.text)).all())
    return {r.ts: r.text for r in rows}


async def test_a_nul_in_one_message_costs_no_other_message_of_its_batch(store: Store) -> None:
    # PostgreSQL cannot store NUL in text ("invalid byte sequence for encoding UTF8: 0x00"): before,
    # that failed every message stored in the same INSERT, and Slack delivered them all again, to fail
    # again. Now every message is stored, the bad one without its NUL.
    messages = [message(n) for n in range(5)] + [message(5, "before\x00after")]
    results = await asyncio.gather(*(store.enqueue(m) for m in messages))
    assert [r.new for r in results] == [True] * 6
    texts = await stored_texts(store)
    assert [texts[m.ts] for m in messages[:5]] == [f"question {n}" for n in range(5)]
    assert texts[messages[5].ts] == ("before\x00after" if store.db.is_sqlite else "beforeafter")
    assert await store.pending_count() == 6


async def test_a_message_no_database_could_store_is_dropped_once_not_redelivered_for_ever(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A row that breaks a constraint fails however often it is sent: acknowledge it (Slack stops
    # sending it), say so in the log once, and keep the rest of the batch.
    poison = message(3, user_id=cast(str, None))
    messages = [message(0), message(1), poison, message(4)]
    with caplog.at_level(logging.WARNING, logger="bot.store.repository"):
        results = await asyncio.gather(*(store.enqueue(m) for m in messages))
    assert [r.new for r in results] == [True, True, False, True]
    assert set(await stored_texts(store)) == {m.ts for m in messages if m is not poison}
    dropped = [r for r in caplog.records if "can never be stored" in r.getMessage()]
    assert len(dropped) == 1 and poison.ts in dropped[0].getMessage()
    again = await store.enqueue(poison)  # Slack would not send it again; if it did, the same answer
    assert not again.new


async def test_a_failing_database_fails_the_whole_batch_for_slack_to_deliver_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    async def unreachable(*_: object, **__: object) -> None:
        nonlocal calls
        calls += 1
        raise sa_exc.OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(store.db, "write", unreachable)
    results = await asyncio.gather(*(store.enqueue(message(n)) for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, sa_exc.OperationalError) for r in results)
    assert calls == 1  # not tried again row by row: it is not a row the database refused
