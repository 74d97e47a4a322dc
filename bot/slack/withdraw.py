"""Taking answer text back from a live reply (`TextWithdrawn`, sent on a refusal): pure bookkeeping.

The Claude side says how many characters of answer text it emitted that must not stand. A reply
shows more than that text: a paragraph break it put between blocks, notes, step cards, and it
may have written only part of it (an answer too long for messages goes to a file). `ShownLog`
records what was shown in order, so a withdrawal becomes exact amounts: the characters to cut
from the end of what was written (and of the answer file), and the step cards to drop. The
withdrawn part is a suffix: everything shown since the withdrawn text began.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Piece = tuple[str, str]  # ("text", markdown) or ("card", step id), as in a fallback message


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: Literal["answer", "other", "card"]
    raw: int = 0  # answer characters as the Claude side counted them
    full: int = 0  # characters added to the answer file's text
    shown: int = 0  # characters queued for the thread
    card_id: str = ""


@dataclass(frozen=True)
class Withdrawal:
    shown_chars: int  # from the end of the text written to the thread (outbox first)
    full_chars: int  # from the end of the answer file's text
    card_ids: frozenset[str]


@dataclass
class ShownLog:
    entries: list[_Entry] = field(default_factory=list)

    def answer(self, raw: int, full: int, shown: int) -> None:
        self.entries.append(_Entry("answer", raw, full, shown))

    def other(self, shown: int) -> None:
        self.entries.append(_Entry("other", shown=shown))

    def card(self, card_id: str) -> None:
        self.entries.append(_Entry("card", card_id=card_id))

    def withdraw(self, chars: int) -> Withdrawal:
        """Forget what was shown from the start of the last `chars` answer characters on."""
        start = len(self.entries)
        left = chars
        while start > 0 and left > 0:
            start -= 1
            left -= self.entries[start].raw
        gone, self.entries = self.entries[start:], self.entries[:start]
        return Withdrawal(
            shown_chars=sum(e.shown for e in gone),
            full_chars=sum(e.full for e in gone),
            card_ids=frozenset(e.card_id for e in gone if e.kind == "card"),
        )


def trim_texts(texts: list[str], chars: int) -> None:
    """Drop `chars` characters from the end of a list of strings, in place."""
    while chars > 0 and texts:
        last = texts.pop()
        if len(last) > chars:
            texts.append(last[: len(last) - chars])
            return
        chars -= len(last)


def trim_chunks(chunks: list[dict[str, Any]], chars: int, cards: frozenset[str]) -> int:
    """Cut `chars` characters of text off the end of stream chunks and drop the cards' updates, in
    place; returns the characters still to cut (they were written already)."""
    for index in range(len(chunks) - 1, -1, -1):
        chunk = chunks[index]
        if chunk["type"] == "task_update" and chunk.get("id") in cards:
            del chunks[index]
        elif chunk["type"] == "markdown_text" and chars > 0:
            text = chunk["text"]
            if len(text) > chars:
                chunks[index] = {**chunk, "text": text[: len(text) - chars]}
                chars = 0
            else:
                chars -= len(text)
                del chunks[index]
    return chars


def trim_pieces(pieces: list[Piece], chars: int, cards: frozenset[str]) -> int:
    """The same for the pieces of a message already written; returns what is left to cut."""
    for index in range(len(pieces) - 1, -1, -1):
        kind, value = pieces[index]
        if kind == "card" and value in cards:
            del pieces[index]
        elif kind == "text" and chars > 0:
            if len(value) > chars:
                pieces[index] = ("text", value[: len(value) - chars])
                chars = 0
            else:
                chars -= len(value)
                del pieces[index]
    return chars


def add_sent(pieces: list[Piece], chunks: list[dict[str, Any]]) -> None:
    """Record stream chunks as the pieces of the streamed message (to rewrite it if need be)."""
    for chunk in chunks:
        if chunk["type"] == "markdown_text":
            if pieces and pieces[-1][0] == "text":
                pieces[-1] = ("text", pieces[-1][1] + chunk["text"])
            else:
                pieces.append(("text", chunk["text"]))
        elif chunk["type"] == "task_update" and ("card", chunk["id"]) not in pieces:
            pieces.append(("card", chunk["id"]))
