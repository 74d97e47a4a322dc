"""What the bot makes of a failed request (after retries): the thread's line, Retry, or a new sandbox.

Told apart by status, `error.type`, the SDK's `error_code`s and the identifiers the request sent,
never by wording (issue 12, item 2)."""

from __future__ import annotations

import pytest

from bot.claude.errors import (
    BAD_KEY,
    BILLING,
    FILE_GONE,
    MODEL_NOT_FOUND,
    OVERLOADED,
    REJECTED,
    TOO_LONG,
    UNREACHABLE,
    ApiFailure,
    ContainerGone,
    Sent,
    classify,
    container_in_doubt,
    parse_failure,
)

CONTAINER = "container_011CAbcdefghijklmnopqrstuv"
FILE = "file_011CAbcdefghijklmnopqrstuv"
MODEL = "claude-sonnet-5"
WITH = Sent(MODEL, CONTAINER, frozenset({FILE}))
WITHOUT = Sent(MODEL, None, frozenset({FILE}))


@pytest.mark.parametrize(
    ("failure", "sent", "expected"),
    [
        (ApiFailure(None, message="ServerDisconnectedError()"), WITH, UNREACHABLE),
        (ApiFailure(None, "overloaded_error", "Overloaded"), WITH, OVERLOADED),
        (ApiFailure(529, "overloaded_error", "Overloaded"), WITH, OVERLOADED),
        (ApiFailure(429, "rate_limit_error", "slow down"), WITHOUT, OVERLOADED),
        (ApiFailure(503, "api_error", "Service unavailable"), WITH, OVERLOADED),
        # A bare 500 is an outage here; with a container it is in doubt (see the next test).
        (ApiFailure(500, "api_error", "Internal server error"), WITH, OVERLOADED),
        (ApiFailure(401, "authentication_error", "invalid x-api-key"), WITH, BAD_KEY),
        (ApiFailure(403, "permission_error", "no"), WITHOUT, BAD_KEY),
        (ApiFailure(402, "billing_error", "credit balance too low"), WITHOUT, BILLING),
        (ApiFailure(404, "not_found_error", f"model: {MODEL}"), WITH, MODEL_NOT_FOUND),
        (ApiFailure(404, "not_found_error", "Not found"), WITHOUT, MODEL_NOT_FOUND),
        (
            ApiFailure(400, "invalid_request_error", "prompt is too long: 200001 tokens > 200000"),
            WITH,
            TOO_LONG,
        ),
        # The sandbox is gone: a 404 while a container was sent, or any error naming it.
        (ApiFailure(404, "not_found_error", "Not found"), WITH, ContainerGone),
        (
            ApiFailure(400, "invalid_request_error", f"container: `{CONTAINER}` has expired"),
            WITH,
            ContainerGone,
        ),
        (ApiFailure(500, "api_error", f"could not restore {CONTAINER}"), WITH, ContainerGone),
        # A file is gone: a new sandbox would not bring it back.
        (ApiFailure(400, "invalid_request_error", f"File not found: {FILE}"), WITH, FILE_GONE),
        (ApiFailure(404, "not_found_error", "gone", "file_expired"), WITH, FILE_GONE),
        # Words alone prove nothing: "container" and "file" in a message name nothing we sent.
        (ApiFailure(400, "invalid_request_error", "container_upload: file limit reached"), WITH, REJECTED),
        (
            ApiFailure(
                400, "invalid_request_error", "container_id is required when there are pending tool uses"
            ),
            WITHOUT,
            REJECTED,
        ),
    ],
)
def test_classify(failure: ApiFailure, sent: Sent, expected: object) -> None:
    error = classify(failure, sent)
    if expected is ContainerGone:
        assert isinstance(error, ContainerGone)
        return
    assert not isinstance(error, ContainerGone)
    assert error.user_message == expected
    assert error.retryable is (expected in (UNREACHABLE, OVERLOADED))


@pytest.mark.parametrize(
    ("failure", "sent", "doubt"),
    [
        (ApiFailure(500, "api_error", "Internal server error"), WITH, True),
        (ApiFailure(500, "api_error", "Internal server error"), WITHOUT, False),  # nothing to lose
        (ApiFailure(529, "overloaded_error", "Overloaded"), WITH, False),  # an outage, plainly
        (ApiFailure(503, "api_error", "Service unavailable"), WITH, False),
        (ApiFailure(None, message="timeout"), WITH, False),
        (ApiFailure(500, "api_error", f"model {MODEL} is unavailable"), WITH, False),
        (ApiFailure(500, "api_error", "boom", "some_code"), WITH, False),
    ],
)
def test_only_a_bare_500_with_a_container_is_in_doubt(failure: ApiFailure, sent: Sent, doubt: bool) -> None:
    assert container_in_doubt(failure, sent) is doubt


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            404,
            '{"type":"error","error":{"type":"not_found_error","message":"File gone","details":'
            '{"error_code":"file_expired"}},"request_id":"req_body"}',
            {},
            ApiFailure(404, "not_found_error", "File gone", "file_expired", "req_body"),
        ),
        (
            500,
            '{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_b"}',
            {"request-id": "req_header"},
            ApiFailure(500, "api_error", "Internal server error", None, "req_header"),
        ),
        (502, "<html>Bad gateway</html>", {}, ApiFailure(502, "", "<html>Bad gateway</html>")),
    ],
)
def test_parse_failure(status: int, body: str, headers: dict[str, str], expected: ApiFailure) -> None:
    assert parse_failure(status, body, headers) == expected


def test_the_request_id_is_in_what_gets_logged() -> None:
    text = str(ApiFailure(500, "api_error", "Internal server error", None, "req_011CXyz"))
    assert "req_011CXyz" in text and "500 api_error" in text
