"""Bounds on what a flood can make the bot hold, and a log that says so once, not a thousand times.

Every queue that grows with Slack's traffic has a ceiling: the inbox's messages waiting to be written
(bot/store/inbox.py), the Socket Mode events being stored (bot/slack/socket.py), and the bytes of
attachments spooled to disk on their way to Anthropic (bot/engine/files_in.py). Past the first two, a
message is not stored and not acknowledged, so Slack delivers it again later (its retries, and
Socket Mode's redelivery of unacknowledged envelopes); past the third, a download waits for room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Messages waiting for the inbox's next commit, and Socket Mode events being stored, at most.
MAX_PENDING_INBOX = 20_000
MAX_STORING_EVENTS = 5_000


class Full(Exception):
    """A bounded queue is full: the message is left for Slack to deliver again."""


class Throttled:
    """A warning logged at most once per `every` seconds, with how many times it happened since."""

    def __init__(self, log: logging.Logger, every: float = 10.0) -> None:
        self.log = log
        self.every = every
        self._last = -1e9
        self._count = 0

    def warning(self, message: str) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            self.log.warning("%s (%d time(s) since the last such line)", message, self._count)
            self._last, self._count = now, 0


class ByteRoom:
    """Bytes that may be held at once (attachments on disk in transit); a reservation waits for room.
    A reservation larger than the whole room is granted when nothing else is held."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        size = max(0, size)
        async with self._changed:
            await self._changed.wait_for(lambda: self.held == 0 or self.held + size <= self.capacity)
            self.held += size
        try:
            yield
        finally:
            async with self._changed:
                self.held -= size
                self._changed.notify_all()
