"""Latency profile: time to first token, then a steady token rate, text grouped into deltas.

Schedule of one response: output token ``k`` (counted over the whole response) is due at
``start + first_token_s + k / tokens_per_s``; a streamed text block sends whatever is due every
``delta_interval_s``; the response ends when its last token's time slot is over. So a 200-token
answer at 50 tok/s after 2.0 s ends at 6.0 s. Real work (code execution, ``Delay``) pushes the
schedule back: tokens after it are due no earlier than when it finished.

``tokens_per_s=None`` means as fast as possible: no sleeping at all, and text is cut into deltas of
``FAST_DELTA_CHARS`` characters so clients still see several deltas.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

FAST_DELTA_CHARS = 32


@dataclass(frozen=True)
class Latency:
    first_token_s: float = 0.0
    tokens_per_s: float | None = None
    delta_interval_s: float = 0.05

    def __post_init__(self) -> None:
        if self.first_token_s < 0 or self.delta_interval_s <= 0:
            raise ValueError("first_token_s must be >= 0 and delta_interval_s > 0")
        if self.tokens_per_s is not None and self.tokens_per_s <= 0:
            raise ValueError("tokens_per_s must be > 0 (or None for as fast as possible)")


class Pacer:
    """The token clock of one response (event-loop time)."""

    def __init__(self, latency: Latency, started: float) -> None:
        self.latency = latency
        self.loop = asyncio.get_running_loop()
        self.next_due = started + latency.first_token_s

    def now(self) -> float:
        return self.loop.time()

    def advance(self, tokens: int) -> float:
        """Reserve ``tokens`` output tokens; return the time the last one is over."""
        tps = self.latency.tokens_per_s
        if tps is not None:
            self.next_due += tokens / tps
        return self.next_due

    def caught_up(self) -> None:
        """Real work finished now: later tokens cannot be due before this moment."""
        self.next_due = max(self.next_due, self.loop.time())
