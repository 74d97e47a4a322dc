"""A small cache of Slack lookups (users.info, conversations.info, user groups) for hot paths.

Two hundred turns that start at once for the same person make one `users.info` call, not two
hundred: a lookup in flight is shared. With `max_age`, an entry older than that is still answered
at once (an acknowledgement never waits for a refresh) and refreshed in the background, so a
person's guest status or a group's members are at most one refresh behind Slack. A failed fetch is
not cached: the next caller tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Lookups(Generic[T]):
    def __init__(
        self, size: int, *, max_age: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.max_age = max_age
        self.clock = clock
        self._done: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._flying: dict[str, asyncio.Task[T]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()

    def cached(self, key: str) -> T | None:
        """The value known now, without fetching (None when there is none)."""
        entry = self._done.get(key)
        return entry[0] if entry is not None else None

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        entry = self._done.get(key)
        if entry is not None:
            self._done.move_to_end(key)
            value, at = entry
            if self.max_age is not None and self.clock() - at > self.max_age and key not in self._flying:
                self._refresh(key, fetch)
            return value
        return await self._fetch_shared(key, fetch)

    def put(self, key: str, value: T) -> None:
        """Know a value already (from a bulk listing), as if it had just been fetched."""
        self._done[key] = (value, self.clock())
        self._done.move_to_end(key)
        if len(self._done) > self.size:
            self._done.popitem(last=False)

    async def _fetch_shared(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        """One fetch per key at a time, in a task of its own: a caller that stops waiting (an
        acknowledgement that could not wait longer) does not cancel it, and its answer is kept."""
        flying = self._flying.get(key)
        if flying is None:
            flying = self._flying[key] = asyncio.get_running_loop().create_task(self._fetch(key, fetch))
            # Retrieved here, so a failure nobody waits for any more is not reported as lost.
            flying.add_done_callback(lambda task: task.cancelled() or task.exception())
        return await asyncio.shield(flying)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await fetch()
        finally:
            del self._flying[key]
        self.put(key, value)
        return value

    def _refresh(self, key: str, fetch: Callable[[], Awaitable[T]]) -> None:
        async def refresh() -> None:
            try:
                await self._fetch_shared(key, fetch)
            except Exception as exc:
                # The known value stays until a refresh works.
                log.info("refreshing the cached %s failed (%r); keeping what was known", key, exc)

        task = asyncio.get_running_loop().create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)
