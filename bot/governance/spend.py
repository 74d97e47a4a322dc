"""Spending, live: what each turn costs as its responses arrive, and whether the next request may go.

The store has what finished turns cost; turns running in this process add what their responses cost
so far. Budget checks read both: the store's sums are refreshed at most every REFRESH_SECONDS (and
after a turn of this process ends), so a check costs no database trip on the hot path. Turns running
on other replicas show up when they end: with N replicas a budget can be passed by at most the cost
of the turns running elsewhere at that moment, which the README states.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import Settings
from bot.governance.access import whom_to_ask
from bot.governance.budgets import (
    Exceeded,
    Key,
    Limits,
    Period,
    Scope,
    Verdict,
    budget_timezone,
    check,
    exceeded_message,
    low_message,
    period_start,
)
from bot.governance.pricing import (
    ModelPrices,
    PriceBook,
    ResponseUsage,
    container_cost_micros,
    container_seconds_billed,
    response_cost_micros,
    with_overrides,
)
from bot.model import Usage
from bot.store.accounting import SpendWindows, Spent

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
# What a request's output is assumed to cost before it is known: at least this many tokens.
MIN_OUTPUT_ESTIMATE = 1024
CHANNEL_DAILY = "budget_daily_usd"  # per-channel overrides (channel_settings), in dollars
CHANNEL_MONTHLY = "budget_monthly_usd"


class SpendSource(Protocol):
    async def spent(self, user_id: str, channel_id: str, windows: SpendWindows) -> Spent: ...

    async def container_seconds_since(self, since: float) -> int: ...

    async def channel_settings(self, channel_id: str) -> dict[str, Any]: ...


def _micros(usd: float | None) -> int | None:
    return None if usd is None else round(usd * 1_000_000)


def limits_from(settings: Settings) -> Limits:
    values: dict[Key, int | None] = {
        (Scope.USER, Period.DAY): _micros(settings.budget_user_daily_usd),
        (Scope.USER, Period.MONTH): _micros(settings.budget_user_monthly_usd),
        (Scope.CHANNEL, Period.DAY): _micros(settings.budget_channel_daily_usd),
        (Scope.CHANNEL, Period.MONTH): _micros(settings.budget_channel_monthly_usd),
        (Scope.WORKSPACE, Period.DAY): _micros(settings.budget_workspace_daily_usd),
        (Scope.WORKSPACE, Period.MONTH): _micros(settings.budget_workspace_monthly_usd),
        (Scope.WORKSPACE, Period.HOUR): _micros(settings.spend_ceiling_hourly_usd),
    }
    return Limits({k: v for k, v in values.items() if v is not None})


def price_book(settings: Settings) -> PriceBook:
    overrides = json.loads(settings.model_prices) if settings.model_prices.strip() else {}
    return PriceBook(
        models=with_overrides(overrides),
        container_usd_per_hour=settings.container_hour_usd,
        container_free_hours_per_month=settings.container_free_hours,
    )


def channel_overrides(values: Mapping[str, Any]) -> dict[Key, int | None]:
    """An admin's budgets for one channel (dollars in the store) as limit overrides."""
    out: dict[Key, int | None] = {}
    for name, period in ((CHANNEL_DAILY, Period.DAY), (CHANNEL_MONTHLY, Period.MONTH)):
        if name in values:
            out[(Scope.CHANNEL, period)] = _micros(values[name])
    return out


@dataclass
class _Cached:
    spent: Spent
    at: float


@dataclass
class TurnSpend:
    """One running turn's spending: the request loop asks `may_send` before each request."""

    tracker: SpendTracker
    user_id: str
    channel_id: str
    limits: Limits
    prices: ModelPrices
    cost_micros: int = 0
    last_prompt_tokens: int = 0
    last_output_tokens: int = 0
    exceeded: Exceeded | None = None

    def count(self, usage: Usage) -> Usage:
        """Price one response (its own usage: Haiku 5.5's long-prompt rate is per request)."""
        priced = response_cost_micros(
            self.prices,
            ResponseUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_5m_tokens=max(0, usage.cache_write_tokens - usage.cache_write_1h_tokens),
                cache_write_1h_tokens=usage.cache_write_1h_tokens,
                web_search_requests=usage.web_search_requests,
            ),
        )
        self.cost_micros += priced
        self.last_prompt_tokens = usage.total_input
        self.last_output_tokens = usage.output_tokens
        self.tracker.running[id(self)] = (self.user_id, self.channel_id, self.cost_micros)
        return Usage(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.requests,
            usage.cache_write_1h_tokens,
            usage.web_search_requests,
            cost_micros=priced,
        )

    def estimate(self, prompt_tokens: int, max_tokens: int) -> int:
        """µ$ the next request may cost: what was read before is read from the cache again, the rest
        is written to it (1-hour TTL), and the output is at least as long as the last one."""
        prices = self.prices
        cached = min(self.last_prompt_tokens, prompt_tokens)
        fresh = max(0, prompt_tokens - cached)
        output = min(max_tokens, max(MIN_OUTPUT_ESTIMATE, self.last_output_tokens))
        return round(prices.cache_read * cached + prices.cache_write_1h * fresh + prices.output * output)

    async def may_send(self, prompt_tokens: int, max_tokens: int) -> Exceeded | None:
        if not self.limits:
            return None
        verdict = await self.tracker.verdict(
            self.user_id, self.channel_id, self.limits, estimate=self.estimate(prompt_tokens, max_tokens)
        )
        self.exceeded = verdict.exceeded
        return verdict.exceeded

    def close(self) -> None:
        self.tracker.running.pop(id(self), None)


class SpendTracker:
    def __init__(
        self,
        settings: Settings,
        source: SpendSource,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.source = source
        self.clock = clock
        self.tz: dt.tzinfo = budget_timezone(settings.budget_timezone)
        self.limits = limits_from(settings)
        self.prices = price_book(settings).for_model(settings.claude_model)
        self.book = price_book(settings)
        if not self.book.knows(settings.claude_model):
            log.warning(
                "no price is known for %s: it is billed at the highest known rates (set MODEL_PRICES)",
                settings.claude_model,
            )
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = asyncio.Lock()
        # Turns running here: (user, channel, µ$ so far), added to the store's sums.
        self.running: dict[int, tuple[str, str, int]] = {}
        self._container: tuple[float, int] | None = None  # (month start, seconds) of the workspace
        self._warned: set[tuple[str, str, str, float]] = set()

    def windows(self, now: float) -> SpendWindows:
        return SpendWindows(
            hour=period_start(now, Period.HOUR, self.tz),
            day=period_start(now, Period.DAY, self.tz),
            month=period_start(now, Period.MONTH, self.tz),
        )

    async def limits_for(self, channel_id: str) -> Limits:
        """The configured limits with the channel's own budgets (set by an admin) in place."""
        return self.limits.overridden(channel_overrides(await self.source.channel_settings(channel_id)))

    def turn(self, user_id: str, channel_id: str, limits: Limits, *, model: str | None = None) -> TurnSpend:
        """A turn's spending, priced for its model (a channel's own, or the deployment's)."""
        prices = self.prices if model is None else self.book.for_model(model)
        return TurnSpend(self, user_id, channel_id, limits, prices)

    async def spent(self, user_id: str, channel_id: str) -> dict[Key, int]:
        """µ$ spent per (scope, period) for this person and channel: finished turns (from the store,
        refreshed every few seconds) plus the turns running in this process."""
        now = self.clock()
        cached = self._cache.get((user_id, channel_id))
        if cached is None or now - cached.at > REFRESH_SECONDS:
            async with self._lock:
                cached = self._cache.get((user_id, channel_id))
                if cached is None or now - cached.at > REFRESH_SECONDS:
                    fresh = await self.source.spent(user_id, channel_id, self.windows(now))
                    cached = self._cache[(user_id, channel_id)] = _Cached(fresh, now)
        out: dict[Key, int] = {}
        for scope, sums in (
            (Scope.USER, cached.spent.user),
            (Scope.CHANNEL, cached.spent.channel),
            (Scope.WORKSPACE, cached.spent.workspace),
        ):
            for period in (Period.HOUR, Period.DAY, Period.MONTH):
                out[(scope, period)] = int(sums.get(period.value, 0))
        for user, channel, cost in self.running.values():
            for period in (Period.HOUR, Period.DAY, Period.MONTH):
                out[(Scope.WORKSPACE, period)] += cost
                if user == user_id:
                    out[(Scope.USER, period)] += cost
                if channel == channel_id:
                    out[(Scope.CHANNEL, period)] += cost
        return out

    async def verdict(self, user_id: str, channel_id: str, limits: Limits, *, estimate: int = 0) -> Verdict:
        spent = await self.spent(user_id, channel_id)
        return check(limits, spent, estimate=estimate, warn_fraction=self.settings.budget_warn_fraction)

    def refusal(self, exceeded: Exceeded, *, mid_turn: bool) -> str:
        """The line that says which budget stopped the turn, until when, and whom to ask."""
        return exceeded_message(
            exceeded, now=self.clock(), tz=self.tz, ask=whom_to_ask(self.settings.admins), mid_turn=mid_turn
        )

    def low_lines(self, user_id: str, channel_id: str, verdict: Verdict) -> list[str]:
        """Lines about budgets running low, each said once per person (or channel) and period."""
        return [
            low_message(key, limit, left)
            for key, limit, left in verdict.low
            if self.warn_once(user_id, channel_id, key)
        ]

    def forget(self) -> None:
        """A turn ended (its cost is in the store now): the next check reads the store again."""
        self._cache.clear()

    def warn_once(self, user_id: str, channel_id: str, key: Key) -> bool:
        """Whether to tell about a low budget now: once per person (or channel) and period."""
        scope, period = key
        who = user_id if scope is Scope.USER else channel_id if scope is Scope.CHANNEL else ""
        mark = (who, scope.value, period.value, period_start(self.clock(), period, self.tz))
        if mark in self._warned:
            return False
        self._warned.add(mark)
        return True

    async def container_cost(self, billed_seconds: int) -> int:
        """µ$ of a turn's sandbox time, after the month's free hours the workspace has not used."""
        if billed_seconds <= 0:
            return 0
        month = period_start(self.clock(), Period.MONTH, self.tz)
        if self._container is None or self._container[0] != month:
            self._container = (month, await self.source.container_seconds_since(month))
        before = self._container[1]
        self._container = (month, before + billed_seconds)
        return container_cost_micros(self.book, billed_seconds, month_seconds_before=before)


def container_seconds(active_seconds: float, *, used_sandbox: bool) -> int:
    """Sandbox time billed for a turn: none without the sandbox, else at least the 5-minute minimum."""
    return container_seconds_billed(active_seconds) if used_sandbox else 0
