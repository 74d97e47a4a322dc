"""The migrations build exactly the schema the code uses (bot/store/schema.py), on SQLite and PostgreSQL.

Alembic compares the migrated database with the tables the code declares: a column, index or table
added to one and not the other fails here, not in production after `python -m bot migrate`.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.store import Database
from bot.store.migrate import upgrade
from bot.store.schema import metadata


async def test_migrations_match_the_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db)

        def diff(conn: Connection) -> list[Any]:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            return [
                d
                for d in compare_metadata(context, metadata)
                # Alembic's own version table is not part of the schema.
                if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
            ]

        assert await db.migrate(diff) == []
    finally:
        await db.close()
