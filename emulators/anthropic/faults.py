"""Injected failures and delays for ``/v1/messages`` requests: the next few, or all of them for a while
(an outage: every request fails, with or without a container)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: float | str | None
    """Seconds, or a string sent as is (e.g. an HTTP-date, RFC 9110 §10.2.3)."""
    after_s: float
    message: str | None
    reset: bool = False
    """Drop the connection at `after_s` instead of answering the error (a connection reset)."""

    def error(self) -> ApiError:
        headers = {}
        ra = self.retry_after
        if isinstance(ra, str):
            headers["retry-after"] = ra
        elif ra is not None:
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        return ApiError(self.status, self.message, headers=headers)


class ResponseCut(Exception):
    """Raised by a generation at a ``Cut`` step: the server breaks the response off."""

    def __init__(self, mode: str, status: int) -> None:
        super().__init__(f"response cut ({mode})")
        self.mode = mode
        self.status = status


class Faults:
    def __init__(self) -> None:
        self._failures: deque[Failure] = deque()
        self._delays: deque[float] = deque()
        self.outage: Failure | None = None
        # Asked for a request's fault when none was queued (a seeded chaos plan, chaos.py).
        self.chaos: Callable[[], Failure | None] | None = None

    def fail_next(
        self, status: int, times: int, retry_after: float | str | None, after_s: float, message: str | None
    ) -> None:
        self._failures.extend([Failure(status, retry_after, after_s, message)] * times)

    def slow_next(self, seconds: float, times: int) -> None:
        self._delays.extend([seconds] * times)

    def take_failure(self) -> Failure | None:
        if self.outage is not None:
            return self.outage
        if self._failures:
            return self._failures.popleft()
        return self.chaos() if self.chaos is not None else None

    def take_delay(self) -> float:
        return self._delays.popleft() if self._delays else 0.0
