"""Bursts of incoming messages, so that work which can wait lets the acknowledgements go first.

Slack events are acknowledged only once stored, and on two cores everything else the bot does in a
burst (claiming turns, opening them, posting "working" statuses: an HTTP call each) competes with
those acknowledgements for the event loop, the GIL and the CPU. Measured with 200 mentions at once,
the statuses alone held the event loop for about 50 ms while the last envelopes waited to be read,
and claims run in the SQLite thread made each insert wait behind them. So that work waits, briefly,
for a burst to end; outside bursts nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

# BURST arrivals within WINDOW seconds make a burst; it is over once GAP seconds pass without one.
BURST = 16
WINDOW = 0.05
GAP = 0.02
# Work that can wait never waits longer than this for a burst to end.
AT_MOST = 0.1


class Arrivals:
    def __init__(
        self,
        *,
        burst: int = BURST,
        window: float = WINDOW,
        gap: float = GAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.window = window
        self.gap = gap
        self.clock = clock
        self._recent: deque[float] = deque()
        self._calm = asyncio.Event()
        self._calm.set()

    def note(self) -> None:
        """One message arrived that must be stored before it is acknowledged."""
        now = self.clock()
        recent = self._recent
        recent.append(now)
        while recent[0] < now - self.window:
            recent.popleft()
        if len(recent) >= self.burst and self._calm.is_set():
            self._calm.clear()
            self._arm(self.gap)

    @property
    def in_burst(self) -> bool:
        return not self._calm.is_set()

    async def calm(self, at_most: float = AT_MOST) -> None:
        """Return once no burst is under way, or after `at_most` seconds."""
        if not self._calm.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calm.wait(), at_most)

    def _arm(self, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        quiet_for = self.clock() - self._recent[-1]
        if quiet_for >= self.gap:
            self._recent.clear()
            self._calm.set()
        else:
            self._arm(self.gap - quiet_for)
