"""A live answer as ordinary messages, for when streaming is not available or broke mid-way.

A message is posted, then edited in place while the rate budget allows (a step's card becomes a line
that changes as the step runs and ends); a new message starts when one is full. In a busy channel a
live post is made only when the channel has room at once, and live edits leave half of `chat.update`
for final answers. At the end an edit waits for room for an edit or a post, whichever comes first;
with a post (or when the edit fails), what is not shown yet goes into a new message: nothing is lost,
nothing shown twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import StepStatus, ThreadKey
from bot.slack import render
from bot.slack.errors import explain_exception
from bot.slack.rate_limits import RateBudget
from bot.slack.withdraw import Piece, trim_pieces

log = logging.getLogger(__name__)


@dataclass
class Card:
    """A code step as the answer shows it (shared with the stream, which sends its chunks)."""

    title: str
    status: StepStatus
    output: str | None = None


@dataclass
class _Message:
    ts: str | None = None
    shown: str = ""  # the content as last posted or edited
    # The message's pieces in order: ("text", markdown) or ("card", step id).
    pieces: list[tuple[str, str]] = field(default_factory=list)
    shown_pieces: int = 0  # how many of `pieces` were in `shown`
    shown_cards: dict[str, StepStatus] = field(default_factory=dict)  # their cards' status then
    rewrite: bool = False  # what it shows must be rewritten (text taken back, see `trim`)


class PlainMessages:
    def __init__(
        self,
        client: AsyncWebClient,
        budget: RateBudget,
        key: ThreadKey,
        cards: dict[str, Card],
        *,
        bot_name: str,
        before_first_post: Callable[[], Awaitable[None]],
        posted: Callable[[str], None],
    ) -> None:
        self.client = client
        self.budget = budget
        self.key = key
        self.cards = cards
        self.bot_name = bot_name
        self._before_first_post = before_first_post
        self._posted = posted
        self._msg = _Message()
        self.gone = False  # Slack refuses our posts here: nothing more can be shown
        self._paid = False  # a post's turn taken and not used yet

    def post_paid(self) -> None:
        """The next post's turn is taken already (reply.py chose a post over a stream)."""
        self._paid = True

    async def _room_to_post(self, final: bool) -> bool:
        """A new message now: its turn taken already, waited for (the final answer), or for a live
        update only if the channel has room at once (else the next flush tries again)."""
        if self._paid:
            self._paid = False
            return True
        if final:
            await self.budget.take_post(self.key.channel_id)
            return True
        return self.budget.try_take_post(self.key.channel_id)

    async def _edit(self, content: str, closing: list[dict[str, Any]] | None, *, urgent: bool) -> bool:
        """Edit the current message. A live update only while the edits have room to spare (they are
        kept for the final answers of a busy channel); an urgent one waits for an edit or a post,
        whichever has room first (with a post, what is not shown goes into a new message)."""
        if not urgent:
            return self.budget.try_take_live("chat.update") and await self._update(content, closing)
        if await self.budget.take_edit(self.key.channel_id) == "post":
            self._paid = True
            return False
        return await self._update(content, closing)

    def unseen(self) -> bool:
        """Something of the current message is not on screen as it is now."""
        return self._msg.rewrite or bool(self._changed_and_unseen())

    def adopt(self, ts: str, pieces: list[Piece]) -> None:
        """Go on with a message written before (a stopped stream) as the current one, to edit it."""
        self._msg = _Message(ts=ts, pieces=list(pieces), shown_pieces=len(pieces))
        # As shown: what comes after it, if it cannot be edited, goes into a new message alone.
        self._msg.shown, _ = self._render()

    def trim(self, chars: int, cards: frozenset[str]) -> int:
        """Take `chars` characters of text off the end of the current message and drop the cards'
        lines (a withdrawal); returns the characters still to take (they were in earlier messages).
        The next step rewrites the message."""
        msg = self._msg
        left = trim_pieces(msg.pieces, chars, cards)
        msg.shown_pieces = min(msg.shown_pieces, len(msg.pieces))
        msg.rewrite = msg.ts is not None
        return left

    async def step(
        self, chunks: list[dict[str, Any]], *, final: bool, blocks: list[dict[str, Any]] | None
    ) -> None:
        """Show `chunks` (and, with `final`, end with `blocks`): post, edit, or start a new message."""
        for chunk in chunks:
            if chunk["type"] == "markdown_text":
                self._msg.pieces.append(("text", chunk["text"]))
            elif chunk["type"] == "task_update" and ("card", chunk["id"]) not in self._msg.pieces:
                self._msg.pieces.append(("card", chunk["id"]))
        while not self.gone:
            # Room to post is had before rendering: a message over the size limit is rendered flat.
            if self._msg.ts is None and not await self._room_to_post(final):
                return
            # Taken before rendering: a message over the size limit is flattened into its text
            # (its steps' lines included), after which the pieces not yet seen cannot be told apart.
            unseen = self._changed_and_unseen()
            content, rest = self._render()
            if not content.strip() and not final:
                self._paid = self._msg.ts is None  # the post's turn is kept for the next step
                return
            done = not rest
            closing = blocks if final and done else None
            if self._msg.ts is None:
                await self._before_first_post()
                if not await self._post(content, closing):
                    return
            elif (content != self._msg.shown or closing) and not await self._edit(
                content, closing, urgent=final or bool(rest)
            ):
                if not (final or rest):
                    return  # try again at the next flush
                # No way to edit at the end: what is not shown yet goes into a new message.
                self._msg = _Message(pieces=self._unshown(content, rest, unseen))
                continue
            if done:
                return
            # Full: the rest goes into a new message.
            self._msg = _Message(pieces=[("text", rest)])

    def _unshown(self, content: str, rest: str, unseen: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """What a new message must hold because the current one (`content`, with `rest` over the
        size limit) could not be edited; `unseen`: its pieces not seen as they are now."""
        shown = self._msg.shown
        if not content.startswith(shown):
            # A step already shown changed its status: the new message says so in a line of its
            # own, then everything after what was shown, instead of repeating everything.
            return unseen
        opener = render.open_fence(shown)
        new_text = (opener + "\n" if opener else "") + content[len(shown) :]
        return [("text", new_text)] + ([("text", rest)] if rest else [])

    def _changed_and_unseen(self) -> list[tuple[str, str]]:
        """The pieces of the current message that the person has not seen as they are now."""
        msg = self._msg
        changed = [
            piece
            for piece in msg.pieces[: msg.shown_pieces]
            if piece[0] == "card"
            and piece[1] in self.cards
            and self.cards[piece[1]].status != msg.shown_cards.get(piece[1])
        ]
        return changed + msg.pieces[msg.shown_pieces :]

    def _mark_shown(self, content: str) -> None:
        msg = self._msg
        msg.shown = content
        msg.rewrite = False
        msg.shown_pieces = len(msg.pieces)
        msg.shown_cards = {
            value: self.cards[value].status
            for kind, value in msg.pieces
            if kind == "card" and value in self.cards
        }

    def _render(self) -> tuple[str, str]:
        """The current message's Markdown, and any text that does not fit in it."""
        out: list[str] = []
        for kind, value in self._msg.pieces:
            if kind == "text":
                out.append(value)
            else:
                card = self.cards.get(value)
                if card is not None:
                    if out and not out[-1].endswith("\n"):
                        out.append("\n")  # a step's line starts a line of its own
                    out.append(render.task_line(card.title, card.status, card.output))
        text = "".join(out)
        if len(text) <= render.MESSAGE_CHARS:
            return text, ""
        parts = render.split_markdown(text, render.MESSAGE_CHARS)
        first = parts[0]
        rest = text[len(first) :] if text.startswith(first) else "".join(parts[1:])
        self._msg.pieces = [("text", first)]
        return first, rest

    async def _post(self, content: str, blocks: list[dict[str, Any]] | None) -> bool:
        try:
            resp = await self.client.chat_postMessage(
                channel=self.key.channel_id,
                thread_ts=self.key.thread_ts,
                text=plain_fallback(content),
                blocks=[{"type": "markdown", "text": content or " "}, *(blocks or [])],
                unfurl_links=False,  # no link previews: see bot.slack.safe_text
                unfurl_media=False,
            )
        except SlackApiError as exc:
            explain_exception(exc, "chat.postMessage", self.bot_name)
            self.gone = True
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chat.postMessage failed (%r); trying again at the next update", exc)
            return False
        self._msg.ts = str(resp["ts"])
        self._mark_shown(content)
        self._posted(self._msg.ts)
        return True

    async def _update(self, content: str, blocks: list[dict[str, Any]] | None) -> bool:
        try:
            await self.client.chat_update(
                channel=self.key.channel_id,
                ts=self._msg.ts or "",
                text=plain_fallback(content),
                blocks=[{"type": "markdown", "text": content or " "}, *(blocks or [])],
            )
        except SlackApiError as exc:
            explain_exception(exc, "chat.update", self.bot_name)
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chat.update failed (%r); trying again at the next update", exc)
            return False
        self._mark_shown(content)
        return True


def plain_fallback(markdown: str) -> str:
    """`text` for notifications and screen readers next to a markdown block."""
    flat = " ".join(markdown.split())
    return flat[:300] or "…"
