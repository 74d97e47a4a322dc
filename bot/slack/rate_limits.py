"""Client-side budget for Slack's rate tiers, so busy channels see no 429s.

Slack limits each Web API method per app per workspace per minute by tier (slack-platform.md §7):
Tier 2 = 20, Tier 3 = 50, Tier 4 = 100 per minute; `chat.postMessage` is special, about one message
per second per channel. A sliding one-minute window per method mirrors that. Calls that must happen
(the final answer) wait for room; optional ones (a status refresh, an intermediate live update) are
skipped when there is none. The SDK's retry handler still honours `Retry-After` should Slack disagree.

Limits are per process: with several replicas each keeps its own window (README, several replicas).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

WINDOW_SECONDS = 60.0
POST_MESSAGE_INTERVAL = 1.0

PER_MINUTE: dict[str, int] = {
    "chat.startStream": 20,
    "chat.stopStream": 20,
    "chat.appendStream": 100,
    "chat.update": 50,
    "chat.postEphemeral": 100,
    "chat.delete": 50,
    # "Special" and unpublished; treated like Tier 3.
    "assistant.threads.setStatus": 50,
    "reactions.add": 50,
    "reactions.remove": 20,
    "files.getUploadURLExternal": 100,
    "files.completeUploadExternal": 100,
    "files.info": 100,
    "conversations.replies": 50,
    "conversations.info": 50,
    "users.info": 100,
}


class RateBudget:
    def __init__(self, per_minute: dict[str, int] | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._limits = dict(PER_MINUTE if per_minute is None else per_minute) if enabled else {}
        self._calls: dict[str, deque[float]] = {}
        self._last_post: dict[str, float] = {}
        self._post_locks: dict[str, asyncio.Lock] = {}

    def _window(self, method: str, now: float) -> deque[float]:
        calls = self._calls.setdefault(method, deque())
        while calls and calls[0] <= now - WINDOW_SECONDS:
            calls.popleft()
        return calls

    def try_take(self, *methods: str) -> bool:
        """Take one slot of each method, all or none (e.g. start + stop of one stream)."""
        now = time.monotonic()
        needed: dict[str, int] = {}
        for m in methods:
            needed[m] = needed.get(m, 0) + 1
        for m, n in needed.items():
            limit = self._limits.get(m)
            if limit is not None and len(self._window(m, now)) + n > limit:
                return False
        for m in methods:
            if m in self._limits:
                self._calls[m].append(now)
        return True

    def refresh(self, method: str) -> None:
        """A slot taken in advance is used now: count it from now (it stays in Slack's window longer)."""
        calls = self._calls.get(method)
        if calls:
            calls.popleft()
            calls.append(time.monotonic())

    async def take(self, method: str) -> None:
        """Wait until the method has room, then take a slot."""
        while not self.try_take(method):
            calls = self._calls[method]
            await asyncio.sleep(max(0.05, calls[0] + WINDOW_SECONDS - time.monotonic()))

    def try_take_post(self, channel: str) -> bool:
        """`chat.postMessage` now if the channel's one-per-second allows it (optional posts)."""
        if not self.enabled:
            return True
        lock = self._post_locks.get(channel)
        now = time.monotonic()
        if (lock is not None and lock.locked()) or now - self._last_post.get(
            channel, 0.0
        ) < POST_MESSAGE_INTERVAL:
            return False
        self._last_post[channel] = now
        return True

    async def take_post(self, channel: str) -> None:
        """`chat.postMessage`: at most one per second per channel."""
        if not self.enabled:
            return
        lock = self._post_locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last_post.get(channel, 0.0) + POST_MESSAGE_INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_post[channel] = time.monotonic()
