"""Store tests run on SQLite and on the machine's real PostgreSQL (a throwaway database per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Database, Store, open_store
from bot.store.migrate import upgrade
from tests import postgres


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/bot.db"
        return
    await postgres.require()
    name = await postgres.create_database()
    try:
        url = postgres.url_for(name)
        db = Database(url)
        await upgrade(db)  # a shared database is migrated on purpose, as `python -m bot migrate` does
        await db.close()
        yield url
    finally:
        await postgres.drop_database(name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = await open_store(database_url, lease_seconds=30)
    try:
        yield s
    finally:
        await s.close()
