"""Accounting: the usage recorded with every turn, summed for people and admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.model import Usage
from bot.store.base import StoreBase
from bot.store.records import (
    UsageSummary,
)
from bot.store.schema import usage


class AccountingStore(StoreBase):
    """What turns used and cost, by person, channel and workspace."""

    async def usage_since(self, user_id: str, since: float) -> UsageSummary:
        def tx(conn: Connection) -> Any:
            return (
                conn.execute(
                    select(
                        func.count(usage.c.id),
                        func.coalesce(func.sum(usage.c.input_tokens), 0),
                        func.coalesce(func.sum(usage.c.output_tokens), 0),
                        func.coalesce(func.sum(usage.c.cache_read_tokens), 0),
                        func.coalesce(func.sum(usage.c.cache_write_tokens), 0),
                        func.coalesce(func.sum(usage.c.requests), 0),
                    ).where(usage.c.user_id == user_id, usage.c.created_at >= since)
                )
            ).one()

        row = await self.db.read(tx)
        return UsageSummary(
            turns=int(row[0]),
            usage=Usage(int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5])),
        )
