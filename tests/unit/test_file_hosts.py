"""Which file URLs the bot may request at all (server-side request forgery guard)."""

from __future__ import annotations

import pytest

from bot.slack.files_in import refusal

EXTRA = frozenset({"127.0.0.1", "files.example.corp"})
PLAIN = frozenset({"127.0.0.1"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.csv", True),
        ("https://files-origin.slack.com/files-pri/T1-F1/a.csv", True),
        ("https://a.slack-edge.com/x.png", True),
        ("https://slack-files.com/T1-F1-abc", True),
        ("https://files.example.corp/a.csv", True),  # added by the operator (SLACK_FILE_HOSTS)
        ("http://127.0.0.1:3001/files-pri/T1-F1/a.csv", True),  # the configured http API host
        ("http://files.slack.com/files-pri/T1-F1/a.csv", False),  # plain http elsewhere
        ("https://evil.example/a.csv", False),
        ("https://files.slack.com.evil.example/a.csv", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("https://localhost:8080/admin", False),
        ("file:///etc/passwd", False),
        ("ftp://files.slack.com/a.csv", False),
        ("/relative/path", False),
    ],
)
def test_refusal(url: str, allowed: bool) -> None:
    assert (refusal(url, EXTRA, PLAIN) is None) is allowed
