"""Budgets: periods in the budget time zone, the check, and the lines people read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.governance.budgets import (
    Key,
    Limits,
    Period,
    Scope,
    budget_timezone,
    check,
    exceeded_message,
    low_message,
    period_end,
    period_start,
)

BERLIN = ZoneInfo("Europe/Berlin")


def ts(text: str, tz: dt.tzinfo = dt.UTC) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("now", "period", "tz", "start", "end"),
    [
        ("2026-12-04 16:30", Period.DAY, dt.UTC, "2026-12-04 00:00", "2026-12-05 00:00"),
        ("2026-12-04 16:30", Period.MONTH, dt.UTC, "2026-12-01 00:00", "2027-01-01 00:00"),
        ("2027-02-10 09:00", Period.MONTH, dt.UTC, "2027-02-01 00:00", "2027-03-01 00:00"),
        # Local midnight, also across a DST change (Berlin moves to summer time on 2027-03-28).
        ("2027-03-28 12:00", Period.DAY, BERLIN, "2027-03-28 00:00", "2027-03-29 00:00"),
        ("2027-03-15 12:00", Period.MONTH, BERLIN, "2027-03-01 00:00", "2027-04-01 00:00"),
    ],
)
def test_periods(now: str, period: Period, tz: dt.tzinfo, start: str, end: str) -> None:
    assert period_start(ts(now, tz), period, tz) == ts(start, tz)
    assert period_end(ts(now, tz), period, tz) == ts(end, tz)


def test_the_hour_is_rolling() -> None:
    now = ts("2026-12-04 16:30")
    assert period_start(now, Period.HOUR, dt.UTC) == now - 3600


DAY_USER = (Scope.USER, Period.DAY)
MONTH_CHANNEL = (Scope.CHANNEL, Period.MONTH)
HOUR_ALL = (Scope.WORKSPACE, Period.HOUR)


@pytest.mark.parametrize(
    ("spent", "estimate", "exceeded"),
    [
        ({}, 0, None),
        ({DAY_USER: 4_000_000}, 900_000, None),
        ({DAY_USER: 4_000_000}, 1_000_001, DAY_USER),  # the next request would pass it
        ({DAY_USER: 5_000_000}, 0, DAY_USER),  # spent already
        ({MONTH_CHANNEL: 100_000_000}, 0, MONTH_CHANNEL),
        # The circuit breaker is checked first.
        ({HOUR_ALL: 20_000_000, DAY_USER: 5_000_000}, 0, HOUR_ALL),
    ],
)
def test_check(spent: dict[Key, int], estimate: int, exceeded: Key | None) -> None:
    limits = Limits({DAY_USER: 5_000_000, MONTH_CHANNEL: 100_000_000, HOUR_ALL: 20_000_000})
    verdict = check(limits, spent, estimate=estimate)
    assert (verdict.exceeded.key if verdict.exceeded else None) == exceeded
    assert verdict.ok is (exceeded is None)


def test_low_budgets_are_reported_tightest_first() -> None:
    limits = Limits({DAY_USER: 5_000_000, MONTH_CHANNEL: 100_000_000})
    verdict = check(limits, {DAY_USER: 4_500_000, MONTH_CHANNEL: 85_000_000})
    assert [key for key, _, _ in verdict.low] == [DAY_USER, MONTH_CHANNEL]
    assert low_message(*verdict.low[0]) == "Your daily budget has $0.50 left (10% of $5.00)."


def test_a_channel_override_replaces_or_removes_a_limit() -> None:
    limits = Limits({MONTH_CHANNEL: 100_000_000, DAY_USER: 5_000_000})
    assert limits.overridden({MONTH_CHANNEL: 1}).get(MONTH_CHANNEL) == 1
    assert limits.overridden({MONTH_CHANNEL: None}).get(MONTH_CHANNEL) is None


def test_exceeded_message_says_what_and_when() -> None:
    limits = Limits({DAY_USER: 5_000_000})
    verdict = check(limits, {DAY_USER: 5_000_000})
    assert verdict.exceeded is not None
    now = ts("2026-12-04 16:30")
    text = exceeded_message(verdict.exceeded, now=now, tz=dt.UTC, ask="<@U_ADMIN>", mid_turn=True)
    assert text == (
        "I stopped here: your daily budget for Claude ($5.00) is used up; it renews at 2026-12-05 00:00 UTC. "
        "Ask <@U_ADMIN> if it needs raising."
    )
    hourly = check(Limits({HOUR_ALL: 1}), {HOUR_ALL: 1}).exceeded
    assert hourly is not None
    assert exceeded_message(hourly, now=now, tz=dt.UTC, ask="x", mid_turn=False).startswith(
        "I didn't start on this: the bot has reached its spending ceiling"
    )
    assert budget_timezone("utc") is dt.UTC
