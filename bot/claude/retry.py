"""The retry policy for Anthropic requests: the SDK's, bounded by what one turn can wait.

As the SDK (`anthropic/_base_client.py`, `_should_retry`, `_parse_retry_after_header`,
`_calculate_retry_timeout`): obey `x-should-retry`, else retry 408, 409, 429 and 5xx; wait what
`retry-after-ms` or `retry-after` says (seconds, or an HTTP-date, RFC 9110 §10.2.3), any positive
value; otherwise exponential backoff with jitter. The SDK would sleep for an hour if told to; a
person in a Slack thread would not wait that long. So a wait that does not fit in what is left of
the turn's time (`TURN_MAX_SECONDS`) ends the turn at once with Retry, saying when Claude is
expected back.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from bot.claude.errors import ClaudeError

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# The SDK's own cap (a platform sleep limit), kept so an absurd header cannot overflow anything.
MAX_RETRY_AFTER = 4_294_967.0
# Time a request still needs after its wait; a wait that leaves less than this is not worth it.
REQUEST_ROOM = 30.0


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """The SDK's policy: obey `x-should-retry`, else retry 408, 409, 429 and 5xx."""
    header = headers.get("x-should-retry")
    if header in ("true", "false"):
        return bool(header == "true")
    return status in (408, 409, 429) or status >= 500


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long the API asked us to wait, or None when it did not say (or said nothing positive).

    In the SDK's order: `retry-after-ms`, then `retry-after` as a number of seconds (fractions
    allowed), then `retry-after` as an HTTP-date (relative to `now`, wall-clock seconds)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return _positive(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _positive(float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return _positive(email.utils.mktime_tz(parsed) - (time.time() if now is None else now))


def _positive(seconds: float) -> float | None:
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else None


def backoff(attempt: int, retry_after: float | None) -> float:
    """The wait before retry number `attempt` (1-based)."""
    if retry_after is not None:
        return retry_after
    delay: float = min(INITIAL_RETRY_DELAY * 2.0 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def check_wait(wait: float, *, now: float, deadline: float | None, detail: str) -> None:
    """Raise when waiting `wait` seconds (from `now`, the clock of `deadline`) leaves no time to
    answer within the turn: the person gets Retry and the time Claude is expected back instead."""
    if deadline is None or now + wait + REQUEST_ROOM <= deadline:
        return
    raise ClaudeError(wait_too_long(wait, time.time()), detail=detail, retryable=True)


def wait_too_long(wait: float, wall_now: float) -> str:
    back = time.strftime("%H:%M UTC", time.gmtime(wall_now + wait))
    return (
        f"Anthropic asked the bot to wait {human_duration(wait)} before its next request (until about "
        f"{back}), longer than this turn may take. Your message is kept: press *Retry* after that."
    )


def human_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"
