"""PostgreSQL restarted under the bot (or its connections killed): the store's next operations work on
fresh connections instead of failing the turn or the message being stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.model import ThreadKey
from bot.store import Database, Store, open_store
from bot.store.migrate import upgrade
from tests import postgres
from tests.store.helpers import msg

KEY = ThreadKey("T1", "C1", "100.000001")


@pytest.fixture
async def pg_store() -> AsyncIterator[tuple[Store, str]]:
    await postgres.require()
    name = await postgres.create_database()
    try:
        db = Database(postgres.url_for(name))
        await upgrade(db)
        await db.close()
        store = await open_store(postgres.url_for(name), lease_seconds=30)
        try:
            yield store, name
        finally:
            await store.close()
    finally:
        await postgres.drop_database(name)


async def test_pooled_connections_killed_between_operations(pg_store: tuple[Store, str]) -> None:
    store, name = pg_store
    # Several pooled connections, all idle when they are killed.
    await asyncio.gather(*(store.enqueue(msg(f"100.00000{i}", f"m{i}")) for i in range(2, 7)))
    assert await postgres.terminate_backends(name) >= 1
    results = await asyncio.gather(*(store.enqueue(msg(f"100.00001{i}", f"n{i}")) for i in range(5)))
    assert all(r.new for r in results)
    start = await store.start_turn(KEY, "owner")
    assert start is not None and [i.text for i in start.items][-5:] == [f"n{i}" for i in range(5)]


async def test_a_connection_killed_mid_transaction(pg_store: tuple[Store, str]) -> None:
    store, name = pg_store
    await store.enqueue(msg("100.000002", "first"))
    started = asyncio.Event()

    def slow(conn: object) -> None:
        from sqlalchemy import text

        conn.execute(text("SELECT 1"))  # type: ignore[attr-defined]
        started.set()
        conn.execute(text("SELECT pg_sleep(0.5)"))  # type: ignore[attr-defined]

    task = asyncio.create_task(store.db.write(slow))
    await started.wait()
    await postgres.terminate_backends(name)
    await task  # ran again, whole, on a fresh connection
    assert (await store.enqueue(msg("100.000003", "second"))).new
