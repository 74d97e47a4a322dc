"""Accounting: usage and cost summed per person, per channel and for the workspace, per period."""

from __future__ import annotations

import time

from bot.model import ThreadKey, Usage
from bot.store import Store
from bot.store.accounting import SpendWindows
from tests.store.helpers import claim, finish, msg


async def test_usage_is_summed_per_user(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    await finish(store, await claim(store, "a"), "a", usage=Usage(10, 20, 30, 40, 2, 5, 1, 700, 300))
    summary = await store.usage_since("U1", 0)
    assert summary.turns == 1 and summary.usage == Usage(10, 20, 30, 40, 2, 5, 1, 700, 300)


async def test_spend_per_scope_and_period(store: Store) -> None:
    """Three turns: one in another channel, one by another person, one long ago (before the day but in
    the month). Each sum counts exactly the turns its scope and period cover."""
    now = time.time()
    here = ThreadKey("T1", "C1", "100.000001")
    there = ThreadKey("T1", "C2", "200.000001")
    for key, user, cost in ((here, "U1", 1_000), (there, "U1", 20_000), (here, "U2", 300_000)):
        await store.record_usage(
            f"t-{cost}", key, user_id=user, model="m", turn_usage=Usage(requests=1, cost_micros=cost)
        )
    windows = SpendWindows(hour=now - 3600, day=now - 60, month=now - 86400)
    spent = await store.spent("U1", "C1", windows)
    assert spent.user == {"hour": 21_000, "day": 21_000, "month": 21_000}
    assert spent.channel == {"hour": 301_000, "day": 301_000, "month": 301_000}
    assert spent.workspace == {"hour": 321_000, "day": 321_000, "month": 321_000}
    later = SpendWindows(hour=now + 10, day=now + 10, month=now - 86400)  # the turns fell out of hour and day
    spent = await store.spent("U1", "C1", later)
    assert spent.user == {"hour": 0, "day": 0, "month": 21_000}
    rows = await store.spend_rows(0)
    assert sorted(r.cost_micros for r in rows) == [1_000, 20_000, 300_000]


async def test_container_time_and_outcomes(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    start = await claim(store, "a")
    await finish(store, start, "a", outcome="failed", usage=Usage(requests=1, container_seconds=300))
    assert await store.container_seconds_since(0) == 300
    assert await store.container_seconds_since(time.time() + 10) == 0
    assert (await store.turn_outcomes(0)).get("failed") == 1
