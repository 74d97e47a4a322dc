"""Throwaway PostgreSQL databases on the machine's server, for store and end-to-end tests."""

from __future__ import annotations

import os
import uuid

import pytest

ADMIN_DSN = os.environ.get("TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def available() -> bool:
    try:
        import asyncpg

        conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
    except Exception:
        return False
    await conn.close()
    return True


async def require() -> None:
    """Skip (or, in CI with REQUIRE_POSTGRES set, fail) when PostgreSQL is not reachable."""
    if not await available():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES is set) but not reachable")
        pytest.skip("PostgreSQL is not reachable")


async def create_database() -> str:
    import asyncpg

    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def url_for(name: str) -> str:
    """The bot's DATABASE_URL for a database on the test server."""
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def terminate_backends(database: str) -> int:
    """pg_terminate_backend on every connection to `database` (the bot's pools): as a database restart
    looks to its clients. Returns how many were cut."""
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return sum(1 for r in rows if r["cut"])
    finally:
        await conn.close()
