"""Failure injection and (optional) enforcement of Slack's per-method rate-limit tiers (§7).

Slack's limits are per method, per workspace, per app, over rolling minutes: Tier 1 ≈ 1/min, Tier 2 ≈
20/min, Tier 3 ≈ 50/min, Tier 4 ≈ 100/min. `chat.postMessage` is "special": about one message per second
per channel with short bursts allowed, plus a workspace-wide cap of "several hundred per minute". The
emulator models that as a token bucket per channel (burst `POST_MESSAGE_BURST`, refill 1/s) and a
workspace cap of `POST_MESSAGE_WORKSPACE_PER_MIN`. `assistant.threads.setStatus` is also "special" with no
published numbers; it is modelled as Tier 3. Methods absent from the table are not limited.
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
WINDOW_S = 60.0


@dataclass
class Injection:
    error: str | None = None  # fail_next: HTTP 200 {"ok": false, "error": error}
    retry_after: int | None = None  # rate_limit_next: HTTP 429
    status: int = 200  # a server error (chaos.py): HTTP 5xx {"ok": false, "error": error}


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enforce = False
        self._injections: dict[str, deque[Injection]] = defaultdict(deque)
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, last refill)
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
        """Seconds to wait (for `Retry-After`) if this call exceeds its tier, else None (and count it)."""
        if not self.enforce:
            return None
        now = self.clock()
        if method == "chat.postMessage":
            return self._check_post_message(now, channel)
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        return self._check_window(method, TIER_PER_MINUTE[tier], now)

    def _check_window(self, key: str, limit: int, now: float) -> int | None:
        window = self._windows[key]
        while window and now - window[0] >= WINDOW_S:
            window.popleft()
        if len(window) >= limit:
            return max(1, math.ceil(WINDOW_S - (now - window[0])))
        window.append(now)
        return None

    def _check_post_message(self, now: float, channel: str | None) -> int | None:
        tokens, last = self._buckets.get(channel or "", (float(POST_MESSAGE_BURST), now))
        tokens = min(float(POST_MESSAGE_BURST), tokens + (now - last) * POST_MESSAGE_PER_SECOND)
        if tokens < 1.0:
            self._buckets[channel or ""] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / POST_MESSAGE_PER_SECOND))
        workspace_wait = self._check_window("chat.postMessage", POST_MESSAGE_WORKSPACE_PER_MIN, now)
        if workspace_wait is not None:
            self._buckets[channel or ""] = (tokens, now)
            return workspace_wait
        self._buckets[channel or ""] = (tokens - 1.0, now)
        return None
