"""Usage summed per person."""

from __future__ import annotations

from bot.model import Usage
from bot.store import Store
from tests.store.helpers import claim, finish, msg


async def test_usage_is_summed_per_user(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    await finish(store, await claim(store, "a"), "a", usage=Usage(10, 20, 30, 40, 2))
    summary = await store.usage_since("U1", 0)
    assert summary.turns == 1 and summary.usage == Usage(10, 20, 30, 40, 2)
