"""Live spending: responses priced as they come, running turns counted, channel budgets, sandbox time."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.governance.budgets import Period, Scope
from bot.governance.spend import SpendTracker, channel_overrides, container_seconds, limits_from
from bot.model import Usage
from bot.store.accounting import SpendWindows, Spent

BASE = {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1", "anthropic_api_key": "sk-ant-1"}


def settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {**BASE, **extra}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Source:
    """The store's side: fixed sums, counting how often it is asked."""

    def __init__(self, user: int = 0, channel: int = 0, workspace: int = 0, container: int = 0) -> None:
        self.sums = (user, channel, workspace)
        self.container = container
        self.asked = 0
        self.channels: dict[str, dict[str, Any]] = {}

    async def spent(self, user_id: str, channel_id: str, windows: SpendWindows) -> Spent:
        self.asked += 1
        u, c, w = self.sums
        return Spent(
            user={"hour": u, "day": u, "month": u},
            channel={"hour": c, "day": c, "month": c},
            workspace={"hour": w, "day": w, "month": w},
        )

    async def container_seconds_since(self, since: float) -> int:
        return self.container

    async def channel_settings(self, channel_id: str) -> dict[str, Any]:
        return self.channels.get(channel_id, {})


def test_limits_from_settings() -> None:
    limits = limits_from(settings(budget_user_daily_usd=5, spend_ceiling_hourly_usd=20))
    assert limits.values == {(Scope.USER, Period.DAY): 5_000_000, (Scope.WORKSPACE, Period.HOUR): 20_000_000}
    assert not limits_from(settings())


def test_channel_overrides_in_dollars() -> None:
    assert channel_overrides({"budget_daily_usd": 1.5, "other": 1}) == {
        (Scope.CHANNEL, Period.DAY): 1_500_000
    }
    assert channel_overrides({"budget_monthly_usd": None}) == {(Scope.CHANNEL, Period.MONTH): None}


async def test_a_response_is_priced_and_counted_while_its_turn_runs() -> None:
    source = Source(user=1_000)
    tracker = SpendTracker(settings(budget_user_daily_usd=1), source, clock=lambda: 1_800_000_000.0)
    turn = tracker.turn("U1", "C1", await tracker.limits_for("C1"))
    priced = turn.count(
        Usage(input_tokens=100, output_tokens=50, cache_write_tokens=1000, cache_write_1h_tokens=1000)
    )
    # Sonnet 5: 2 per input token, 10 per output token, 4 per 1-hour cache write (µ$).
    assert priced.cost_micros == 200 + 500 + 4000
    spent = await tracker.spent("U1", "C1")
    assert spent[(Scope.USER, Period.DAY)] == 1_000 + 4_700
    assert spent[(Scope.CHANNEL, Period.DAY)] == 4_700  # another person's turn in this channel: none
    assert (await tracker.spent("U2", "C2"))[(Scope.WORKSPACE, Period.MONTH)] == 4_700
    turn.close()
    assert (await tracker.spent("U1", "C1"))[(Scope.USER, Period.DAY)] == 1_000
    assert source.asked == 2  # the second person's sums; the first person's came from the cache


async def test_the_next_request_is_estimated_from_the_last() -> None:
    tracker = SpendTracker(settings(budget_user_daily_usd=0.05), Source(user=40_000), clock=lambda: 1.8e9)
    turn = tracker.turn("U1", "C1", await tracker.limits_for("C1"))
    turn.count(
        Usage(input_tokens=10, output_tokens=2000, cache_write_tokens=3000, cache_write_1h_tokens=3000)
    )
    # 3,010 tokens read again (0.2 each), 990 new ones written (4 each), 2,000 out (10 each).
    assert turn.estimate(4000, max_tokens=16000) == round(0.2 * 3010 + 4 * 990 + 10 * 2000)
    assert turn.estimate(4000, max_tokens=500) == round(0.2 * 3010 + 4 * 990 + 10 * 500)
    assert await turn.may_send(4000, 16000) is not None  # 40,000 + ~32,000 spent/estimated > 50,000


async def test_an_admins_channel_budget_replaces_the_default() -> None:
    source = Source(channel=2_000_000)
    source.channels["C1"] = {"budget_daily_usd": 1.0}
    tracker = SpendTracker(settings(budget_channel_daily_usd=10), source, clock=lambda: 1.8e9)
    assert (await tracker.verdict("U1", "C1", await tracker.limits_for("C1"))).exceeded is not None
    assert (await tracker.verdict("U1", "C2", await tracker.limits_for("C2"))).exceeded is None


@pytest.mark.parametrize(("used", "seconds", "micros"), [(0, 300, 0), (1550 * 3600, 300, 4167)])
async def test_sandbox_time_after_the_free_hours(used: int, seconds: int, micros: int) -> None:
    tracker = SpendTracker(settings(), Source(container=used), clock=lambda: 1.8e9)
    assert await tracker.container_cost(seconds) == micros


def test_sandbox_time_billed() -> None:
    assert container_seconds(12.0, used_sandbox=False) == 0
    assert container_seconds(12.0, used_sandbox=True) == 300
    assert container_seconds(400.2, used_sandbox=True) == 401


def test_a_budget_line_is_said_once_per_period() -> None:
    tracker = SpendTracker(settings(), Source(), clock=lambda: 1.8e9)
    key = (Scope.USER, Period.DAY)
    assert tracker.warn_once("U1", "C1", key) and not tracker.warn_once("U1", "C1", key)
    assert tracker.warn_once("U2", "C1", key)
