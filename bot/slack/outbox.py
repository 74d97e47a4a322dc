"""The chunks of a live answer not yet sent to Slack, and how much of them fits in a message (pure).

A streamed message is limited by everything it carries, not only its text: task cards count too,
their `details` and `output` twice (render.chunk_weight). So what a message can still take is a
budget in those units, and text is cut at a safe boundary (never mid-table, a line at a time near
the limit) when it does not fit whole. The end of the text, after its last word boundary, is held
back (`tail`) until more text settles it or `release` (the final write): a message that ends
mid-word would have the rest of the word start the next one (boundaries.py).
"""

from __future__ import annotations

from typing import Any

from bot.slack import render
from bot.slack.boundaries import settled_end

Chunk = dict[str, Any]
# A streamed message this close to its limit takes whole lines only (see Outbox.take).
NEAR_LIMIT = 2_000


class Outbox:
    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.tail = ""  # text not settled yet (a word may go on): not taken until released

    def __bool__(self) -> bool:
        return bool(self.chunks)

    def add(self, chunk: Chunk) -> None:
        self.release()
        self.chunks.append(chunk)

    def add_text(self, text: str) -> None:
        """Text joins the markdown chunk before it, so a flush sends it as one piece; its end after
        the last word boundary waits in `tail`."""
        text = self.tail + text
        cut = settled_end(text)
        self.tail = text[cut:]
        if cut:
            self._join(text[:cut])

    def release(self) -> None:
        """No more text is coming (the final write, a card, a withdrawal): the tail goes out as it is."""
        if self.tail:
            tail, self.tail = self.tail, ""
            self._join(tail)

    def _join(self, text: str) -> None:
        if self.chunks and self.chunks[-1]["type"] == "markdown_text":
            self.chunks[-1] = render.markdown_chunk(self.chunks[-1]["text"] + text)
        else:
            self.chunks.append(render.markdown_chunk(text))

    def put_back(self, chunks: list[Chunk]) -> None:
        """Chunks that could not be sent go back in front, in order."""
        self.chunks[:0] = chunks

    def take_all(self) -> list[Chunk]:
        taken, self.chunks = self.chunks, []
        return taken

    def weight(self) -> int:
        return sum(render.chunk_weight(c) for c in self.chunks)

    def take(self, room: int, *, whole_lines: bool = False, empty_message: bool = False) -> list[Chunk]:
        """Chunks that fit in `room`, in order; text is cut at a safe boundary when it does not fit.

        With `whole_lines`, text that brings the message near its limit is taken only up to its last
        safe line end: a streamed message cannot take text back, so one that fills up mid-line would
        end mid-sentence (or mid-table) and the rest would start the next message. `empty_message`:
        the message holds nothing yet, so a line longer than a whole message is cut where it must be,
        and a card bigger than the room is taken anyway (it could not fit anywhere else)."""
        taken: list[Chunk] = []
        while self.chunks:
            chunk = self.chunks[0]
            weight = render.chunk_weight(chunk)
            if chunk["type"] != "markdown_text":
                if weight > room and (taken or not empty_message):
                    break
                taken.append(self.chunks.pop(0))
                room -= weight
                continue
            text = chunk["text"]
            fits = weight <= room
            near_limit = whole_lines and room - weight < NEAR_LIMIT and not text.endswith("\n")
            if fits and not near_limit:
                taken.append(self.chunks.pop(0))
                room -= weight
                continue
            if fits:
                cut = render.choose_cut(text, len(text) - 1, hard=False)  # up to its last line end
            elif room > 0:
                # Cut mid-line (a sentence, a table row) only when the message holds nothing else.
                limit = render.chars_within(text, room)
                cut = render.choose_cut(text, limit, hard=empty_message and not taken)
            else:
                cut = 0
            if cut > 0:
                taken.append(render.markdown_chunk(text[:cut]))
            self.chunks[0] = render.markdown_chunk(text[cut:])
            break
        return taken
