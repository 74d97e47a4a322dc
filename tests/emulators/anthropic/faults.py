"""Injected failures and delays for the next ``/v1/messages`` requests."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: float | None
    after_s: float
    message: str | None

    def error(self) -> ApiError:
        headers = {}
        if self.retry_after is not None:
            ra = self.retry_after
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        return ApiError(self.status, self.message, headers=headers)


class Faults:
    def __init__(self) -> None:
        self._failures: deque[Failure] = deque()
        self._delays: deque[float] = deque()

    def fail_next(
        self, status: int, times: int, retry_after: float | None, after_s: float, message: str | None
    ) -> None:
        self._failures.extend([Failure(status, retry_after, after_s, message)] * times)

    def slow_next(self, seconds: float, times: int) -> None:
        self._delays.extend([seconds] * times)

    def take_failure(self) -> Failure | None:
        return self._failures.popleft() if self._failures else None

    def take_delay(self) -> float:
        return self._delays.popleft() if self._delays else 0.0
