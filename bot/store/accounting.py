"""Accounting: the usage and cost recorded with every turn, summed for budgets, people and admins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from bot.model import Usage
from bot.store.base import StoreBase
from bot.store.records import UsageSummary
from bot.store.schema import turns, usage


@dataclass(frozen=True)
class SpendWindows:
    """The start of each budget period (epoch seconds), computed by the caller in its time zone."""

    hour: float
    day: float
    month: float


@dataclass(frozen=True)
class Spent:
    """µ$ spent in each period by one person, in one channel, and in the whole workspace."""

    user: Mapping[str, int]  # period name -> µ$
    channel: Mapping[str, int]
    workspace: Mapping[str, int]


@dataclass(frozen=True)
class SpendRow:
    at: float
    user_id: str
    channel_id: str
    cost_micros: int


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
                        func.coalesce(func.sum(usage.c.cache_write_1h_tokens), 0),
                        func.coalesce(func.sum(usage.c.web_search_requests), 0),
                        func.coalesce(func.sum(usage.c.cost_micros), 0),
                        func.coalesce(func.sum(usage.c.container_seconds), 0),
                    ).where(usage.c.user_id == user_id, usage.c.created_at >= since)
                )
            ).one()

        row = await self.db.read(tx)
        return UsageSummary(turns=int(row[0]), usage=Usage(*(int(v) for v in row[1:])))

    async def spent(self, user_id: str, channel_id: str, windows: SpendWindows) -> Spent:
        """µ$ spent in the current hour (rolling), day and month, by the person, in the channel and in
        all: one pass over the rows since the earliest of the three starts."""
        since = min(windows.hour, windows.month)
        periods = {"hour": windows.hour, "day": windows.day, "month": windows.month}
        columns = []
        for who in ("user", "channel", "workspace"):
            for start in periods.values():
                matches = usage.c.created_at >= start
                if who == "user":
                    matches = matches & (usage.c.user_id == user_id)
                elif who == "channel":
                    matches = matches & (usage.c.channel_id == channel_id)
                columns.append(func.coalesce(func.sum(case((matches, usage.c.cost_micros), else_=0)), 0))

        def tx(conn: Connection) -> Any:
            return conn.execute(select(*columns).where(usage.c.created_at >= since)).one()

        row = [int(v) for v in await self.db.read(tx)]
        names = list(periods)
        return Spent(
            user=dict(zip(names, row[0:3], strict=True)),
            channel=dict(zip(names, row[3:6], strict=True)),
            workspace=dict(zip(names, row[6:9], strict=True)),
        )

    async def container_seconds_since(self, since: float) -> int:
        """Sandbox time billed to the workspace's turns since `since` (the month's free hours)."""

        def tx(conn: Connection) -> Any:
            return conn.scalar(
                select(func.coalesce(func.sum(usage.c.container_seconds), 0)).where(
                    usage.c.created_at >= since
                )
            )

        return int(await self.db.read(tx) or 0)

    async def spend_rows(self, since: float) -> list[SpendRow]:
        """Every priced turn since `since`, oldest first: what the admin's charts and tables sum."""

        def tx(conn: Connection) -> Any:
            return conn.execute(
                select(usage.c.created_at, usage.c.user_id, usage.c.channel_id, usage.c.cost_micros)
                .where(usage.c.created_at >= since)
                .order_by(usage.c.created_at)
            ).all()

        return [SpendRow(float(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in await self.db.read(tx)]

    async def turn_outcomes(self, since: float) -> dict[str, int]:
        """How the turns started since `since` ended (answered, failed, stopped, ...; running)."""

        def tx(conn: Connection) -> Any:
            outcome = func.coalesce(turns.c.outcome, turns.c.state)
            return conn.execute(
                select(outcome, func.count()).where(turns.c.started_at >= since).group_by(outcome)
            ).all()

        return {str(r[0]): int(r[1]) for r in await self.db.read(tx)}
