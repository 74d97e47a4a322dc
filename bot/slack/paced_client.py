"""A scheduler in front of the Slack Web API: token buckets that adapt to 429s, and priorities.

Slack limits each method per workspace by tier, as minimums ("20+ per minute") that tolerate bursts,
and `chat.postMessage` at about one per second per channel with "short bursts >1 allowed"
(docs.slack.dev/apis/web-api/rate-limits; slack-platform.md §7). Each limit is a `Bucket`: a burst
at once, then the sustained rate. Slack's answer is the truth: after a 429 the bucket is paused for
exactly its `Retry-After` (no call of that method, or that channel for posts, before then) and its rate
halved; after a quiet period the rate comes back in steps up to the documented one (AIMD).

Callers that must write wait in a queue by priority (`Priority`): a sign of life for a waiting person
first, then final answers. A waiter may accept several options (a final answer goes out as a post or
as a stream, whichever has room first). Live updates come last: they never wait, and take only what
has room once every waiter has had its turn (`try_take`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.slack.errors import error_code

log = logging.getLogger(__name__)

Key = str | tuple[str, str]  # a method, or (method, channel) for per-channel limits
# After this long without a 429 a slowed bucket speeds up by a step (a quarter of its documented rate).
QUIET_SECONDS = 10.0
INCREASE_STEP = 0.25
# The slowest a run of 429s can make a bucket: an eighth of its documented rate.
SLOWEST = 0.125
# 429s waited out before the call fails: each waits its Retry-After and its turn, so they never storm,
# and a final answer given up on would be lost.
MAX_RETRIES = 8
# How far behind Slack's refill the buckets stay (Bucket.need).
MARGIN_SECONDS = 0.25


class Priority(IntEnum):
    """Who waits goes by this; live updates never wait (`try_take`: now, or at the next update)."""

    LIFE = 0  # a sign of life for a person waiting (status, reaction), and a call refused by a 429
    FINAL = 1  # a final answer, and anything a person waits for


@dataclass
class Bucket:
    """A token bucket (pure: times are passed in). `reserved` tokens are promised to calls to come
    (the stop of a stream that is open): spent only when made, but not available to others."""

    rate: float  # documented tokens per second
    burst: float
    tokens: float
    at: float
    current: float = 0.0  # the rate now, lowered by 429s
    reserved: int = 0
    paused_until: float = 0.0
    calm_since: float = 0.0
    drained: bool = False  # ran dry since it was last full

    def __post_init__(self) -> None:
        self.current = self.current or self.rate

    def refill(self, now: float) -> None:
        if now > self.at:
            # Additive increase: back towards the documented rate, a step per quiet period.
            while self.current < self.rate and now - self.calm_since >= QUIET_SECONDS:
                self.calm_since += QUIET_SECONDS
                self.current = min(self.rate, self.current + self.rate * INCREASE_STEP)
            start = max(self.at, self.paused_until)
            if now > start:
                self.tokens = min(self.burst, self.tokens + (now - start) * self.current)
                self.drained = self.drained and self.tokens < self.burst
            self.at = now

    def available(self, now: float) -> float:
        self.refill(now)
        return 0.0 if now < self.paused_until else self.tokens - self.reserved

    def need(self) -> float:
        """Tokens to have before a call: one, and once the bucket ran dry the margin's worth too (up
        to the burst), so that a call is not made a hair before Slack's own bucket has refilled (it
        counted the earlier calls when they reached it, not when they were sent). The sustained rate
        is the same; the calls only come a little later. A full bucket's burst goes at once."""
        if not self.drained:
            return 1.0
        return min(self.burst, 1.0 + self.current * MARGIN_SECONDS)

    def ready(self, now: float) -> bool:
        return self.available(now) >= self.need()

    def next_token_at(self, now: float) -> float:
        """When the next call will be ready (now if it is)."""
        self.refill(now)
        start = max(now, self.paused_until)
        have, need = self.tokens - self.reserved, self.need()
        if have >= need:
            return start
        if self.current <= 0 or self.burst < 1.0:
            return math.inf  # a limit of nothing (a test's): never
        return start + (need - have) / self.current

    def take(self, now: float) -> None:
        self.refill(now)
        self.tokens -= 1.0
        self.drained = self.drained or self.tokens < 1.0

    def limited(self, now: float, retry_after: float) -> None:
        """Slack said 429: nothing before `retry_after`, then one call (what Slack's `Retry-After`
        promises), then at half the rate (multiplicative decrease)."""
        self.refill(now)
        self.paused_until = max(self.paused_until, now + retry_after)
        self.tokens = min(self.tokens, 1.0 + self.reserved)
        self.drained = False
        self.current = max(self.rate * SLOWEST, self.current / 2)
        self.calm_since = self.paused_until


@dataclass(frozen=True)
class Option:
    """What one way of doing a call needs: a token of each `take`, and a promise of each `reserve`."""

    take: tuple[Key, ...]
    reserve: tuple[Key, ...] = ()

    @property
    def keys(self) -> tuple[Key, ...]:
        return self.take + self.reserve


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    options: Sequence[Option] = field(compare=False)
    future: asyncio.Future[int] = field(compare=False)


class Pacer:
    """The buckets of one workspace, and the callers waiting for them."""

    def __init__(
        self, limits: Callable[[Key], tuple[float, float] | None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = limits  # key -> (tokens per second, burst), None: not limited
        self.clock = clock
        self._buckets: dict[Key, Bucket] = {}
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def bucket(self, key: Key) -> Bucket | None:
        found = self._buckets.get(key)
        if found is None:
            limit = self._limits(key)
            if limit is None:
                return None
            rate, burst = limit
            now = self.clock()
            found = self._buckets[key] = Bucket(rate, burst, tokens=burst, at=now, calm_since=now)
        return found

    def _fits(self, option: Option, now: float) -> bool:
        return all((b := self.bucket(k)) is None or b.ready(now) for k in option.keys)

    def _grant(self, option: Option, now: float) -> None:
        for key in option.take:
            if (b := self.bucket(key)) is not None:
                b.take(now)
        for key in option.reserve:
            if (b := self.bucket(key)) is not None:
                b.reserved += 1

    def try_take(self, option: Option) -> bool:
        """Take now if there is room and nobody waits for the same limits (optional work)."""
        if self._waiters:
            # Who waits goes first with what has room now; what is left with room is nobody's yet.
            self._serve()
        now = self.clock()
        if not self._fits(option, now):
            return False
        self._grant(option, now)
        return True

    async def take(self, options: Sequence[Option], priority: Priority) -> int:
        """Wait for the first of `options` to have room, in turn by priority; its index."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(int(priority), next(self._seq), options, future)
        self._waiters.append(waiter)
        self._waiters.sort()
        self._serve()
        try:
            return await future
        finally:
            if waiter in self._waiters:  # cancelled while waiting
                self._waiters.remove(waiter)
                self._serve()

    def use_reserved(self, key: Key) -> None:
        """A promised call is made now: its token is spent."""
        b = self.bucket(key)
        if b is not None and b.reserved > 0:
            b.reserved -= 1
            b.take(self.clock())

    def release_reserved(self, key: Key) -> None:
        """A promised call will not be made (the stream ended on its own)."""
        b = self.bucket(key)
        if b is not None and b.reserved > 0:
            b.reserved -= 1
            self._serve()

    def give_back(self, option: Option) -> None:
        """Tokens taken for a call that was not made after all."""
        for key in option.take:
            if (b := self.bucket(key)) is not None:
                b.tokens = min(b.burst, b.tokens + 1.0)
        for key in option.reserve:
            self.release_reserved(key)
        self._serve()

    def limited(self, key: Key, retry_after: float) -> None:
        b = self.bucket(key)
        if b is not None:
            b.limited(self.clock(), retry_after)

    def _serve(self) -> None:
        """Grant what can be granted, highest priority first; a limit someone waits for is not given
        to a later waiter, even one with another option that fits."""
        now = self.clock()
        blocked: set[Key] = set()
        wake: float | None = None
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
                continue
            for index, option in enumerate(waiter.options):
                if not blocked.intersection(option.keys) and self._fits(option, now):
                    self._grant(option, now)
                    waiter.future.set_result(index)
                    self._waiters.remove(waiter)
                    break
            else:
                # What holds it back is kept for it (a later waiter does not take it first); the
                # rest stays free: one busy channel's queue does not hold up posts elsewhere.
                for option in waiter.options:
                    for key in option.keys:
                        b = self.bucket(key)
                        if b is None or b.ready(now):
                            continue
                        blocked.add(key)
                        if (at := b.next_token_at(now)) < math.inf:
                            wake = at if wake is None else min(wake, at)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wake is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.001, wake - now), self._serve)


class PacedWebClient(AsyncWebClient):
    """The SDK client, with a 429 waited out exactly (`Retry-After`) through the pacer, its bucket
    paused for everyone meanwhile; failed calls counted by method and error for /metrics."""

    on_rate_limited: Callable[[str, str | None, float], None] | None = None
    wait_for_retry: Callable[[str, str | None], Any] | None = None

    async def api_call(self, api_method: str, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await super().api_call(api_method, **kwargs)
            except SlackApiError as exc:
                metrics.SLACK_ERRORS.labels(api_method, error_code(exc)).inc()
                if exc.response.status_code != 429 or attempt >= MAX_RETRIES:
                    raise
                attempt += 1
                retry_after = _retry_after(exc)
                channel = _channel_of(kwargs)
                log.info("%s: 429, Retry-After %.0f s (retry %d)", api_method, retry_after, attempt)
                if self.on_rate_limited is None or self.wait_for_retry is None:
                    await asyncio.sleep(retry_after)
                else:
                    self.on_rate_limited(api_method, channel, retry_after)
                    await self.wait_for_retry(api_method, channel)


def _retry_after(exc: SlackApiError) -> float:
    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value))  # type: ignore[arg-type]
    return 1.0


def _channel_of(kwargs: dict[str, Any]) -> str | None:
    for source in ("json", "params", "data"):
        args = kwargs.get(source)
        if isinstance(args, dict) and args.get("channel"):
            return str(args["channel"])
    return None
