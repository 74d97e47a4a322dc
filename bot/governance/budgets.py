"""Spending limits and what to say about them (pure).

Budgets are per person, per channel and for the whole workspace, per calendar day and month in the
budget time zone; a global circuit breaker caps the workspace's spend over the last rolling hour. They
are checked before every Anthropic request (the engine adds the next request's estimated cost to what
was spent): a request that would pass a limit is not sent, and the turn ends with what it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.governance.pricing import dollars


class Scope(StrEnum):
    USER = "user"
    CHANNEL = "channel"
    WORKSPACE = "workspace"


class Period(StrEnum):
    HOUR = "hour"  # rolling: the last 60 minutes (the circuit breaker)
    DAY = "day"
    MONTH = "month"


Key = tuple[Scope, Period]
ORDER: tuple[Key, ...] = (
    (Scope.WORKSPACE, Period.HOUR),
    (Scope.WORKSPACE, Period.MONTH),
    (Scope.WORKSPACE, Period.DAY),
    (Scope.CHANNEL, Period.MONTH),
    (Scope.CHANNEL, Period.DAY),
    (Scope.USER, Period.MONTH),
    (Scope.USER, Period.DAY),
)


@dataclass(frozen=True)
class Limits:
    """µ$ per (scope, period); a missing key is unlimited."""

    values: Mapping[Key, int] = field(default_factory=dict)

    def get(self, key: Key) -> int | None:
        return self.values.get(key)

    def overridden(self, overrides: Mapping[Key, int | None]) -> Limits:
        """These limits with some replaced (an admin's per-channel budget); None removes a limit."""
        merged = dict(self.values)
        for key, value in overrides.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return Limits(merged)

    def __bool__(self) -> bool:
        return bool(self.values)


@dataclass(frozen=True)
class Exceeded:
    key: Key
    limit: int
    spent: int


@dataclass(frozen=True)
class Verdict:
    exceeded: Exceeded | None = None
    # Limits with less than the warning fraction left (after this spend), tightest first.
    low: tuple[tuple[Key, int, int], ...] = ()  # (key, limit, left)

    @property
    def ok(self) -> bool:
        return self.exceeded is None


def period_start(now: float, period: Period, tz: dt.tzinfo) -> float:
    if period is Period.HOUR:
        return now - 3600
    local = dt.datetime.fromtimestamp(now, tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.MONTH:
        start = start.replace(day=1)
    return start.timestamp()


def period_end(now: float, period: Period, tz: dt.tzinfo) -> float:
    """When the period that contains `now` is over (its budget is fresh again)."""
    if period is Period.HOUR:
        return now + 3600
    local = dt.datetime.fromtimestamp(period_start(now, period, tz), tz)
    if period is Period.DAY:
        nxt = local + dt.timedelta(days=1)
    else:
        nxt = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    # Aware arithmetic is wall-clock arithmetic: across a DST change this is still local midnight.
    return nxt.timestamp()


def check(
    limits: Limits, spent: Mapping[Key, int], *, estimate: int = 0, warn_fraction: float = 0.2
) -> Verdict:
    """Whether `estimate` more µ$ fits every limit, given what each scope spent in its period."""
    low: list[tuple[Key, int, int]] = []
    for key in ORDER:
        limit = limits.get(key)
        if limit is None:
            continue
        used = spent.get(key, 0)
        if used + estimate > limit or used >= limit:
            return Verdict(exceeded=Exceeded(key, limit, used))
        left = limit - used - estimate
        if limit > 0 and left < limit * warn_fraction:
            low.append((key, limit, left))
    low.sort(key=lambda item: item[2] / item[1] if item[1] else 0)
    return Verdict(low=tuple(low))


_WHOSE = {
    Scope.USER: "Your",
    Scope.CHANNEL: "This channel's",
    Scope.WORKSPACE: "The workspace's",
}
_PERIOD = {Period.DAY: "daily", Period.MONTH: "monthly", Period.HOUR: "hourly"}


def _when(end: float, tz: dt.tzinfo) -> str:
    local = dt.datetime.fromtimestamp(end, tz)
    name = local.tzname() or ""
    return f"{local:%Y-%m-%d %H:%M} {name}".strip()


def exceeded_message(exceeded: Exceeded, *, now: float, tz: dt.tzinfo, ask: str, mid_turn: bool) -> str:
    scope, period = exceeded.key
    if period is Period.HOUR:
        what = f"The bot has reached its spending ceiling for the last hour ({dollars(exceeded.limit)})"
        when = "try again later"
    else:
        what = f"{_WHOSE[scope]} {_PERIOD[period]} budget for Claude ({dollars(exceeded.limit)}) is used up"
        when = f"it renews at {_when(period_end(now, period, tz), tz)}"
    start = "I stopped here: " if mid_turn else "I didn't start on this: "
    return f"{start}{what[0].lower()}{what[1:]}; {when}. Ask {ask} if it needs raising."


def low_message(key: Key, limit: int, left: int) -> str:
    scope, period = key
    share = max(0, round(100 * left / limit)) if limit else 0
    return (
        f"{_WHOSE[scope]} {_PERIOD[period]} budget has {dollars(max(left, 0))} left ({share}% of "
        f"{dollars(limit)})."
    )


def budget_timezone(name: str) -> dt.tzinfo:
    return dt.UTC if name.upper() == "UTC" else ZoneInfo(name)
