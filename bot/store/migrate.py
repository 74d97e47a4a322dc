"""Schema migrations (Alembic), run programmatically: `python -m bot migrate` and start-up checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaBehind(Exception):
    """The database schema is older than the code: the operator must run `python -m bot migrate`."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _status(connection: Connection) -> SchemaStatus:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return SchemaStatus(current=current, head=head)


def _upgrade(connection: Connection) -> None:
    command.upgrade(_config(connection), "head")


async def schema_status(db: Database) -> SchemaStatus:
    return await db.migrate(_status)


async def upgrade(db: Database) -> SchemaStatus:
    await db.migrate(_upgrade)
    return await schema_status(db)


async def ensure_schema(db: Database) -> None:
    """SQLite (one process owns the file) upgrades itself; a shared database must be migrated on purpose,
    so several replicas never race to change it."""
    status = await schema_status(db)
    if status.up_to_date:
        return
    if db.is_sqlite:
        await upgrade(db)
        return
    raise SchemaBehind(
        f"The database schema is at {status.current or 'nothing'} but this version needs {status.head}: "
        "run `python -m bot migrate` once, then start the bot."
    )
