"""The retry policy: the SDK's reading of `retry-after`, and what a turn can afford to wait (item 8)."""

from __future__ import annotations

import email.utils

import pytest

from bot.claude.errors import ClaudeError
from bot.claude.retry import (
    MAX_RETRY_AFTER,
    REQUEST_ROOM,
    backoff,
    check_wait,
    retry_after_seconds,
    should_retry,
    wait_too_long,
)

NOW = 1_800_000_000.0


def http_date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "5"}, 5.0),
        ({"retry-after": "1.5"}, 1.5),  # not in the spec, but the SDK honours fractions
        ({"retry-after": "3600"}, 3600.0),  # long waits are honoured (the bot used to drop > 60 s)
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one first, as the SDK
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": http_date(120)}, 120.0),  # RFC 9110: an HTTP-date
        ({"retry-after": http_date(-30)}, None),  # a date in the past asks for no wait
        ({"retry-after": "0"}, None),
        ({"retry-after": "-4"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": "99999999999"}, MAX_RETRY_AFTER),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {}, True),
        (529, {}, True),
        (500, {}, True),
        (408, {}, True),
        (409, {}, True),
        (400, {}, False),
        (404, {}, False),
        (500, {"x-should-retry": "false"}, False),
        (400, {"x-should-retry": "true"}, True),
    ],
)
def test_should_retry(status: int, headers: dict[str, str], expected: bool) -> None:
    assert should_retry(status, headers) is expected


def test_backoff_uses_retry_after_else_grows_with_jitter() -> None:
    assert backoff(1, 42.0) == 42.0
    first, fourth, tenth = backoff(1, None), backoff(4, None), backoff(10, None)
    assert 0.375 <= first <= 0.5 and 3.0 <= fourth <= 4.0 and 6.0 <= tenth <= 8.0


@pytest.mark.parametrize(
    ("wait", "deadline", "fits"),
    [
        (5.0, None, True),  # no turn budget known: wait like the SDK
        (3600.0, None, True),
        (5.0, 100.0 + 5.0 + REQUEST_ROOM, True),
        (5.0, 100.0 + 5.0 + REQUEST_ROOM - 1, False),
        (3600.0, 100.0 + 900.0, False),
    ],
)
def test_a_wait_must_fit_in_the_turn(wait: float, deadline: float | None, fits: bool) -> None:
    if fits:
        check_wait(wait, now=100.0, deadline=deadline, detail="429")
        return
    with pytest.raises(ClaudeError) as raised:
        check_wait(wait, now=100.0, deadline=deadline, detail="429")
    assert raised.value.retryable and "Retry" in raised.value.user_message


@pytest.mark.parametrize(
    ("wait", "says"),
    [(45.0, "45 seconds"), (1800.0, "30 minutes"), (3 * 3600.0, "3.0 hours")],
)
def test_the_person_is_told_when_claude_is_expected_back(wait: float, says: str) -> None:
    line = wait_too_long(wait, NOW)
    back = email.utils.formatdate(NOW + wait, usegmt=True)[17:22]  # "HH:MM" of the RFC 1123 date
    assert says in line and f"{back} UTC" in line
