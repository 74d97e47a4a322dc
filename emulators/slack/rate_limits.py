"""Failure injection and (optional) enforcement of Slack's rate limits (§7), as token buckets.

Slack's limits are per method, per workspace, per app: Tier 1 "1+ per minute", Tier 2 "20+", Tier 3
"50+", Tier 4 "100+", each with bursts ("a small amount of burst behavior is tolerated", "occasional
bursts", "sporadic bursts are welcome", "generous burst behavior": docs.slack.dev/apis/web-api/rate-limits).
Each method is a token bucket refilled at its tier's rate, holding `tier_burst` minutes' worth of
calls (default 1.0: a full minute's quota may be spent at once, as a strict per-minute count would
allow too). `chat.postMessage` is "special": "1 per second" per channel, "short bursts >1 allowed"
with no guarantee, plus a workspace-wide limit ("several hundred per minute", unpublished): a bucket
per channel of `post_burst` messages refilled at 1/s, and a workspace bucket of 300 per minute.
`assistant.threads.setStatus` is "special" with no published numbers; it is modelled as Tier 3.
Methods absent from the table are not limited. A call over the limit answers 429 with `Retry-After`:
the whole seconds until its bucket has a token again.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

TIER_PER_MINUTE: dict[str, int] = {"t1": 1, "t2": 20, "t3": 50, "t4": 100}

METHOD_TIERS: dict[str, str] = {
    "chat.startStream": "t2",
    "chat.stopStream": "t2",
    "chat.appendStream": "t4",
    "chat.update": "t3",
    "chat.delete": "t3",
    "chat.postEphemeral": "t4",
    "chat.getPermalink": "t4",
    "reactions.add": "t3",
    "reactions.remove": "t2",
    "reactions.get": "t3",
    "files.info": "t4",
    "files.getUploadURLExternal": "t4",
    "files.completeUploadExternal": "t4",
    "files.delete": "t3",
    "views.publish": "t4",
    "usergroups.users.list": "t2",
    "users.list": "t2",
    "conversations.replies": "t3",
    "conversations.history": "t3",
    "conversations.info": "t3",
    "conversations.open": "t3",
    "users.info": "t4",
    "apps.connections.open": "t3",
    "assistant.threads.setStatus": "t3",  # "special" in Slack's docs, numbers unpublished
    "agents.sessions.setStatus": "t3",  # slackapi/java-slack-sdk#1633: "Rate limit: Tier 3"
    "assistant.threads.setTitle": "t4",
    "assistant.threads.setSuggestedPrompts": "t4",
}

POST_MESSAGE_BURST = 3
POST_MESSAGE_PER_SECOND = 1.0
POST_MESSAGE_WORKSPACE_PER_MIN = 300
TIER_BURST_MINUTES = 1.0


@dataclass
class Injection:
    error: str | None = None  # fail_next: HTTP 200 {"ok": false, "error": error}
    retry_after: int | None = None  # rate_limit_next: HTTP 429
    status: int = 200  # a server error (chaos.py): HTTP 5xx {"ok": false, "error": error}


@dataclass
class Bucket:
    """`capacity` calls at once, refilled at `per_second`; full when first used."""

    per_second: float
    capacity: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> int | None:
        """Seconds to wait (whole, at least 1) when empty, else None and one token is used."""
        if self.tokens < 0:
            self.tokens, self.at = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1.0:
            return max(1, math.ceil((1.0 - self.tokens) / self.per_second))
        self.tokens -= 1.0
        return None

    def give_back(self) -> None:
        self.tokens += 1.0


class RateLimiter:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        post_burst: int = POST_MESSAGE_BURST,
        tier_burst: float = TIER_BURST_MINUTES,
    ) -> None:
        self.clock = clock
        self.enforce = False
        self.post_burst = post_burst
        self.tier_burst = tier_burst
        self._injections: dict[str, deque[Injection]] = defaultdict(deque)
        self._buckets: dict[tuple[str, str], Bucket] = {}
        # Asked for a call's fault when none was queued (a seeded chaos plan, chaos.py).
        self.chaos: Callable[[str], Injection | None] | None = None

    # ------------------------------------------------------------ injection
    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        self._injections[method].extend(Injection(error=error) for _ in range(times))

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self._injections[method].extend(Injection(retry_after=retry_after) for _ in range(times))

    def take_injection(self, method: str) -> Injection | None:
        queue = self._injections.get(method)
        if queue:
            return queue.popleft()
        return self.chaos(method) if self.chaos is not None else None

    # ---------------------------------------------------------- enforcement
    def check(self, method: str, channel: str | None) -> int | None:
        """Seconds to wait (for `Retry-After`) if this call exceeds its limit, else None (and count it)."""
        if not self.enforce:
            return None
        now = self.clock()
        if method == "chat.postMessage":
            per_channel = self._bucket(method, channel or "", POST_MESSAGE_PER_SECOND, self.post_burst)
            wait = per_channel.take(now)
            if wait is not None:
                return wait
            per_minute = POST_MESSAGE_WORKSPACE_PER_MIN
            workspace = self._bucket(method, "", per_minute / 60, per_minute * self.tier_burst)
            wait = workspace.take(now)
            if wait is not None:
                per_channel.give_back()  # refused: it does not count against the channel
            return wait
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        per_minute = TIER_PER_MINUTE[tier]
        return self._bucket(method, "", per_minute / 60, per_minute * self.tier_burst).take(now)

    def _bucket(self, method: str, scope: str, per_second: float, capacity: float) -> Bucket:
        bucket = self._buckets.get((method, scope))
        if bucket is None:
            bucket = self._buckets[(method, scope)] = Bucket(per_second, max(1.0, float(capacity)))
        return bucket
