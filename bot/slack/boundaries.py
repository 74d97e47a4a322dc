"""Where text may be cut between two writes to Slack without splitting a word or a code span (pure).

A live answer arrives in deltas that end anywhere, mid-word included. What a live update sends is
only what is settled: up to the last whitespace, and never inside an inline code span still open on
its line. When an answer goes on in a new message (no edit left, a full or aged stream), the person
reads the parts apart, so `bounded_cut` gives the last such place within a limit. The end of the
answer is always settled: the final write takes everything (a held word must never be lost).
"""

from __future__ import annotations

import re

_RUN = re.compile(r"`+")
SENTENCE_ENDS = (".", "!", "?", ":", ";")


def open_span_start(line: str) -> int | None:
    """Where an inline code span still open at the end of `line` starts (CommonMark: a run of
    backticks is closed by the next run of the same length), or None."""
    opened: tuple[int, int] | None = None  # (start, run length)
    for match in _RUN.finditer(line):
        run = len(match.group())
        if opened is None:
            if run < 3 or match.start() > 0:  # a run of 3+ at a line start is a fence, not a span
                opened = (match.start(), run)
        elif run == opened[1]:
            opened = None
    return None if opened is None else opened[0]


def settled_end(text: str) -> int:
    """How much of `text` a live update may send: up to the last whitespace outside an open code span,
    or all of it when it ends a sentence (what follows starts a new word; a decimal like `3.` + `14`
    split there is the price of not holding every sentence's last word)."""
    end = len(text)
    line_start = text.rfind("\n", 0, end) + 1
    span = open_span_start(text[line_start:end])
    if span is not None:
        # Before the span's opening run no span is open (runs pair up left to right).
        end = line_start + span
    elif text.endswith(SENTENCE_ENDS):
        return end
    while end > 0 and not text[end - 1].isspace():
        end -= 1
    return end


def bounded_cut(text: str, limit: int) -> int:
    """The longest prefix of at most `limit` characters that ends at whitespace outside an open code
    span; `limit` itself only when there is no such place (a single word longer than a message)."""
    if len(text) <= limit:
        return len(text)
    found = settled_end(text[: limit + 1])  # whitespace just past the limit still ends a word
    return min(found, limit) if found > 0 else limit
