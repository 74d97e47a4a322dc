"""What a streamed message can still take: sizes as Slack counts them, and cuts at safe places."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.outbox import Outbox
from bot.slack.render import chars_within, chunk_weight, markdown_chunk

CARD: dict[str, Any] = {
    "type": "task_update",
    "id": "s1",
    "title": "Load",
    "status": "complete",
    "details": "abc",
    "output": "xy",
}


@pytest.mark.parametrize(
    ("chunk", "weight"),
    [
        (markdown_chunk("hello"), 5),
        (markdown_chunk("héllo"), 6),  # UTF-8 bytes, not characters
        (markdown_chunk("📊"), 4),
        (CARD, 4 + 2 * (3 + 2)),  # the title once, details and output twice
        ({"type": "task_update", "id": "s", "title": "T", "status": "in_progress"}, 1),
        ({"type": "plan_update", "title": "Plan"}, 4),
    ],
)
def test_chunk_weight(chunk: dict[str, Any], weight: int) -> None:
    assert chunk_weight(chunk) == weight


@pytest.mark.parametrize(
    ("text", "limit", "chars"), [("abc", 2, 2), ("éé", 3, 1), ("📊x", 3, 0), ("ab", 0, 0)]
)
def test_chars_within(text: str, limit: int, chars: int) -> None:
    assert chars_within(text, limit) == chars


def outbox(*chunks: dict[str, Any]) -> Outbox:
    box = Outbox()
    for chunk in chunks:
        box.add(dict(chunk))
    return box


def test_text_is_cut_at_a_paragraph_that_fits() -> None:
    box = outbox(markdown_chunk("first paragraph.\n\nsecond one, longer than the room left."))
    taken = box.take(30)
    assert taken == [markdown_chunk("first paragraph.\n\n")]
    assert box.chunks == [markdown_chunk("second one, longer than the room left.")]


def test_a_card_that_does_not_fit_waits_for_the_next_message() -> None:
    box = outbox(markdown_chunk("intro\n"), CARD)
    assert box.take(10) == [markdown_chunk("intro\n")]
    assert box.chunks == [CARD]


def test_an_empty_message_takes_what_could_fit_nowhere_else() -> None:
    assert outbox(CARD).take(5, empty_message=True) == [CARD]
    assert outbox(markdown_chunk("x" * 50)).take(20, empty_message=True) == [markdown_chunk("x" * 20)]
    assert outbox(markdown_chunk("x" * 50)).take(20) == []  # a message with text in it waits instead


def test_near_the_limit_only_whole_lines_are_taken() -> None:
    box = outbox(markdown_chunk("a full line\nhalf a sente"))
    assert box.take(1_500, whole_lines=True) == [markdown_chunk("a full line\n")]
    assert box.chunks == [markdown_chunk("half a sente")]


def test_text_joins_the_text_before_it() -> None:
    box = Outbox()
    box.add_text("a")
    box.add_text("b")
    box.add(CARD)
    box.add_text("c")
    box.release()
    assert box.take_all() == [markdown_chunk("ab"), CARD, markdown_chunk("c")]
    assert not box


def test_the_end_of_a_word_waits_for_the_rest_of_it() -> None:
    box = Outbox()
    box.add_text("alpha bra")
    assert box.take_all() == [markdown_chunk("alpha ")]
    box.add_text("vo charlie")
    assert box.take_all() == [markdown_chunk("bravo ")]
    box.release()  # the final write: everything, whole words or not
    assert box.take_all() == [markdown_chunk("charlie")] and box.tail == ""


def test_an_open_code_span_waits_whole_and_a_card_releases_the_tail() -> None:
    box = Outbox()
    box.add_text("run `df.he")
    assert box.take_all() == [markdown_chunk("run ")]
    box.add_text("ad()` now")
    box.add(CARD)
    assert box.take_all() == [markdown_chunk("`df.head()` now"), CARD]


def test_a_hard_cut_falls_between_words() -> None:
    box = outbox(markdown_chunk("alpha bravo charlie delta"))
    assert box.take(14, empty_message=True) == [markdown_chunk("alpha bravo ")]
    assert box.chunks == [markdown_chunk("charlie delta")]
