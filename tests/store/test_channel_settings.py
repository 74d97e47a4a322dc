"""Per-channel settings: merged, removed with None, kept per channel."""

from __future__ import annotations

from bot.store import Store


async def test_channel_settings_merge_and_remove(store: Store) -> None:
    assert await store.channel_settings("C1") == {}
    assert await store.update_channel_settings("C1", {"budget_daily_usd": 5.0}, by="U1") == {
        "budget_daily_usd": 5.0
    }
    now = await store.update_channel_settings("C1", {"budget_monthly_usd": 50.0}, by="U2")
    assert now == {"budget_daily_usd": 5.0, "budget_monthly_usd": 50.0}
    assert await store.update_channel_settings("C1", {"budget_daily_usd": None}, by="U2") == {
        "budget_monthly_usd": 50.0
    }
    await store.update_channel_settings("C2", {"budget_daily_usd": 1.0}, by="U1")
    assert await store.all_channel_settings() == {
        "C1": {"budget_monthly_usd": 50.0},
        "C2": {"budget_daily_usd": 1.0},
    }
