"""The line shown for a refusal (issue 12, item 4): the API's explanation when it gives one."""

from __future__ import annotations

from typing import Any

import pytest

from bot.claude.conversation import refusal_line

EXPLAINED = {"type": "refusal", "category": "cyber", "explanation": "It could enable cyber harm."}


@pytest.mark.parametrize(
    ("details", "withdrawn", "expected"),
    [
        (
            EXPLAINED,
            True,
            "Claude declined this request: It could enable cyber harm. Its unfinished answer was removed. "
            "You can rephrase it, or press *New session* to start over.",
        ),
        # stop_details is always there on a refusal, but category and explanation may be null.
        (
            {"type": "refusal", "category": None, "explanation": None},
            False,
            "Claude declined this request. You can rephrase it, or press *New session* to start over.",
        ),
        (
            None,
            False,
            "Claude declined this request. You can rephrase it, or press *New session* to start over.",
        ),
    ],
)
def test_refusal_line(details: Any, withdrawn: bool, expected: str) -> None:
    assert refusal_line(details, withdrawn=withdrawn) == expected
