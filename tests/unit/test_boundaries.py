"""Cuts between two writes of an answer: never inside a word or an inline code span."""

from __future__ import annotations

import pytest

from bot.slack.boundaries import bounded_cut, open_span_start, settled_end


@pytest.mark.parametrize(
    ("line", "start"),
    [
        ("plain words", None),
        ("a `span` closed", None),
        ("an `open span", 3),
        ("``double ` inside`` closed", None),
        ("``double still open`", 0),
        ("`one` and `two", 10),
        ("```python", None),  # a fence line, not a span
    ],
)
def test_open_span_start(line: str, start: int | None) -> None:
    assert open_span_start(line) == start


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("", 0),
        ("complete words ", 15),
        ("mike nov", 5),  # the issue's `... mike nov` | `ember oscar ...`
        ("Answer LOAD-2F6", 7),
        ("line one\nsecond", 9),
        ("ends a paragraph\n\n", 18),
        ("call `df.head(", 5),  # the open span is held back whole
        ("call `df.head()` and", 17),
        ("word", 0),
        ("The first part is on screen.", 28),  # a sentence's end settles its last word
        ("see `a.", 4),
        ("a `b c` d `e f", 10),
    ],
)
def test_settled_end(text: str, end: int) -> None:
    assert settled_end(text) == end


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("short", 10, 5),
        ("alpha beta gamma", 8, 6),  # "alpha " | "beta gamma"
        ("alpha beta gamma", 10, 10),  # "alpha beta" | " gamma": the limit falls at a word's end
        ("alpha `beta gamma` delta", 14, 6),  # not inside the code span
        ("abcdefghij", 4, 4),  # one word longer than the limit: cut where it must be
    ],
)
def test_bounded_cut(text: str, limit: int, cut: int) -> None:
    assert bounded_cut(text, limit) == cut
    head, tail = text[:cut], text[cut:]
    assert head + tail == text
