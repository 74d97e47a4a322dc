"""Taking refused answer text back from a reply: the bookkeeping is exact (item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.withdraw import ShownLog, add_sent, trim_chunks, trim_pieces, trim_texts


def test_a_withdrawal_is_everything_shown_since_the_withdrawn_text_began() -> None:
    shown = ShownLog()
    shown.answer(raw=6, full=6, shown=6)  # "Hello." from an earlier response
    shown.card("srv_1")  # a code step
    shown.other(shown=20)  # a note
    shown.answer(raw=5, full=7, shown=7)  # "\n\nSure," after the step (the break is the reply's)
    shown.card("srv_2")
    shown.other(shown=9)
    shown.answer(raw=4, full=4, shown=4)
    gone = shown.withdraw(9)
    assert (gone.shown_chars, gone.full_chars, gone.card_ids) == (7 + 9 + 4, 7 + 4, frozenset({"srv_2"}))
    # What came before stays; a second withdrawal takes the next part back.
    gone = shown.withdraw(6)
    assert (gone.shown_chars, gone.full_chars, gone.card_ids) == (6 + 20, 6, frozenset({"srv_1"}))


def test_text_that_went_only_to_the_answer_file() -> None:
    shown = ShownLog()
    shown.answer(raw=10, full=10, shown=10)
    shown.other(shown=30)  # "the answer is long" notice
    shown.answer(raw=50, full=50, shown=0)
    gone = shown.withdraw(50)
    assert (gone.shown_chars, gone.full_chars) == (0, 50)


def test_nothing_to_withdraw() -> None:
    shown = ShownLog()
    shown.answer(raw=3, full=3, shown=3)
    gone = shown.withdraw(0)
    assert (gone.shown_chars, gone.full_chars, gone.card_ids) == (0, 0, frozenset())


@pytest.mark.parametrize(
    ("texts", "chars", "expected"),
    [
        (["ab", "cd", "ef"], 3, ["ab", "c"]),
        (["ab", "cd"], 4, []),
        (["ab"], 9, []),
        (["ab"], 0, ["ab"]),
    ],
)
def test_trim_texts(texts: list[str], chars: int, expected: list[str]) -> None:
    trim_texts(texts, chars)
    assert texts == expected


def md(text: str) -> dict[str, Any]:
    return {"type": "markdown_text", "text": text}


def card(step: str) -> dict[str, Any]:
    return {"type": "task_update", "id": step, "title": "t", "status": "complete"}


@pytest.mark.parametrize(
    ("chunks", "chars", "cards", "left", "expected"),
    [
        ([md("Hello. Sure, here")], 11, frozenset(), 0, [md("Hello.")]),
        ([md("Hello."), card("a"), md("Sure")], 4, frozenset({"a"}), 0, [md("Hello.")]),
        ([card("old"), md("Sure")], 4, frozenset(), 0, [card("old")]),  # a step shown before stays
        ([md("Sure")], 10, frozenset(), 6, []),  # the rest was written already
    ],
)
def test_trim_chunks(
    chunks: list[dict[str, Any]], chars: int, cards: frozenset[str], left: int, expected: list[dict[str, Any]]
) -> None:
    assert trim_chunks(chunks, chars, cards) == left
    assert chunks == expected


def test_trim_pieces_of_a_written_message() -> None:
    pieces = [("text", "Hello."), ("card", "a"), ("text", "\n\nSure, here is"), ("card", "b")]
    assert trim_pieces(pieces, 15, frozenset({"b"})) == 0
    assert pieces == [("text", "Hello."), ("card", "a")]
    assert trim_pieces(pieces, 10, frozenset()) == 4


def test_stream_chunks_become_the_pieces_of_the_message() -> None:
    pieces: list[tuple[str, str]] = []
    add_sent(pieces, [md("Hel"), md("lo."), card("a"), {"type": "blocks", "blocks": []}])
    add_sent(pieces, [card("a"), md("Done")])
    assert pieces == [("text", "Hello."), ("card", "a"), ("text", "Done")]
