"""What the bot makes of a failed model request (after retries): the thread's message, retry, or a reset."""

from __future__ import annotations

import pytest

from bot.claude.api import OVERLOADED, UNREACHABLE, ContainerGone, classify


@pytest.mark.parametrize(
    ("status", "message", "sent_container", "expected"),
    [
        (None, "ServerDisconnectedError()", True, UNREACHABLE),
        (529, "Overloaded", False, OVERLOADED),
        (404, "model: claude-nonexistent-9", False, "model was not found"),
        (401, "invalid x-api-key", False, "API key was rejected"),
        (400, "prompt is too long: 200001 tokens > 200000 maximum", True, "no longer fits"),
        # The sandbox is gone: the turn starts over in a new one.
        (404, "Container not found", True, ContainerGone),
        (400, "container container_011 has expired", True, ContainerGone),
        (500, "Internal server error", True, ContainerGone),
        # A file is gone: a new sandbox would not bring it back.
        (404, "File not found: file_011CN", True, "no longer available"),
        (400, "container_upload: file file_011CN does not exist", True, "no longer available"),
        # Our own mistake, not an expiry.
        (400, "container_id is required when there are pending tool uses", True, "rejected the request"),
    ],
)
def test_classify(status: int | None, message: str, sent_container: bool, expected: object) -> None:
    error = classify(status, message, sent_container=sent_container)
    if expected is ContainerGone:
        assert isinstance(error, ContainerGone)
        return
    assert not isinstance(error, ContainerGone)
    assert isinstance(expected, str) and expected in error.user_message
    assert error.retryable is (expected in (UNREACHABLE, OVERLOADED))
