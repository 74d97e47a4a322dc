"""A seeded chaos plan for the Anthropic emulator: a share of /v1/messages requests fail (the soak suite).

Each failure has the shape the API gives it (README "Chaos plans" cites the sources):

- 429 `rate_limit_error` with a `retry-after` header (seconds);
- 529 `overloaded_error` and 500 `api_error`, before any byte of the response;
- a stream cut mid-response: events already sent, then `event: error` (`overloaded_error` or
  `api_error`), never `message_stop` (errors after a 200 arrive that way in a stream);
- a connection reset mid-response: events already sent, then the TCP connection ends.

Every fault is counted in `counts` by kind, for the suite's figures.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .faults import Failure

if TYPE_CHECKING:
    from .server import AnthropicEmulator

KINDS = ("anthropic_429", "anthropic_529", "anthropic_500", "anthropic_stream_error", "anthropic_reset")


@dataclass(frozen=True)
class AnthropicChaosPlan:
    seed: int = 0
    failure_rate: float = 0.2
    retry_after_s: float = 1.0
    # How far into a response a mid-response failure lands (seconds).
    cut_after_s: tuple[float, float] = (0.02, 0.3)


class AnthropicChaos:
    def __init__(self, claude: AnthropicEmulator, plan: AnthropicChaosPlan) -> None:
        self.claude = claude
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.counts: Counter[str] = Counter()
        self.enabled = True
        self._next_kinds: list[str] = []

    def install(self) -> None:
        self.claude.faults.chaos = self._fault

    def uninstall(self) -> None:
        self.claude.faults.chaos = None

    def each_kind_next(self) -> None:
        """Make the next failures one of every kind (so a short run sees them all)."""
        self.queue(*KINDS)

    def queue(self, *kinds: str) -> None:
        """Make the next requests fail with these kinds, in order, before any drawn at random."""
        self._next_kinds.extend(kinds)

    def _fault(self) -> Failure | None:
        if not self.enabled:
            return None
        if self._next_kinds:
            kind = self._next_kinds.pop(0)
        elif self.rng.random() < self.plan.failure_rate:
            kind = self.rng.choice(KINDS)
        else:
            return None
        self.counts[kind] += 1
        return self.failure(kind)

    def failure(self, kind: str) -> Failure:
        cut = self.rng.uniform(*self.plan.cut_after_s)
        if kind == "anthropic_429":
            return Failure(429, self.plan.retry_after_s, 0.0, None)
        if kind == "anthropic_529":
            return Failure(529, None, 0.0, None)
        if kind == "anthropic_500":
            return Failure(500, None, 0.0, None)
        if kind == "anthropic_stream_error":
            return Failure(self.rng.choice((529, 500)), None, cut, None)
        return Failure(500, None, cut, None, reset=True)
