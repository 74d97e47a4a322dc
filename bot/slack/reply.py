"""Live progress of one turn in its thread: status, the streamed answer, task cards, the final state.

The answer streams with `chat.startStream` / `appendStream` / `stopStream` (slack-platform.md §5.2),
each code run as a `task_update` card. Writes to Slack are buffered: at most one per
`stream_update_seconds` per thread, and intermediate updates are skipped when the method's rate
budget is spent. When streaming is unavailable or breaks mid-way, the rest goes to an ordinary
message updated in place, starting exactly where the stream stopped (nothing lost, nothing twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import (
    Notice,
    ResponseRestarted,
    StepFinished,
    StepStarted,
    StepStatus,
    TextDelta,
    ThreadKey,
    TurnEvent,
)
from bot.slack import render
from bot.slack.errors import error_code, explain_exception
from bot.slack.rate_limits import RateBudget
from bot.slack.safe_text import neutralize_mentions, split_unfinished

log = logging.getLogger(__name__)

# What a Web API call raises when it fails: Slack's answer, or the connection (after the SDK's retries).
CallFailed = (SlackApiError, aiohttp.ClientError, TimeoutError)


def _failure(exc: BaseException) -> str:
    return error_code(exc) if isinstance(exc, SlackApiError) else repr(exc)


STATUS_TEXT = "is working on it…"
# Stream errors after which the stream is no longer open (nothing to stop).
STREAM_OVER = frozenset({"message_not_in_streaming_state", "message_not_found", "stopped_by_user"})
# A streamed message this close to its limit takes whole lines only (see _take_chunks).
NEAR_LIMIT = 2_000
# Output held back by the rate budget is tried again after at least this long.
RETRY_SECONDS = 0.5


STATUS_REFRESH_SECONDS = 60.0  # Slack drops a status after two minutes without a message (§5.1)


async def set_thread_status(
    client: AsyncWebClient, budget: RateBudget, key: ThreadKey, status: str, *, wait: bool
) -> bool:
    """Set (or with "" clear) the thread's status line. Without `wait`, skipped when the rate budget
    has no room now. True when Slack took it."""
    if not budget.try_take("assistant.threads.setStatus"):
        if not wait:
            return False
        await budget.take("assistant.threads.setStatus")
    try:
        await client.assistant_threads_setStatus(
            channel_id=key.channel_id, thread_ts=key.thread_ts, status=status
        )
    except CallFailed as exc:
        # A status is never worth failing for: the turn's end (which clears it) must still be recorded.
        log.info("assistant.threads.setStatus failed: %s", _failure(exc))
        return False
    return True


@dataclass
class _Card:
    title: str
    status: StepStatus
    output: str | None = None


@dataclass
class _Message:
    """The message currently being written (a stream or a fallback message)."""

    ts: str | None = None
    sent_text: str = ""
    shown: str = ""  # fallback messages: the content as last posted or edited
    # Fallback rendering: the message's pieces in order, text or a card id.
    pieces: list[tuple[str, str]] = field(default_factory=list)
    shown_pieces: int = 0  # how many of `pieces` were in `shown`
    shown_cards: dict[str, StepStatus] = field(default_factory=dict)  # their cards' status then


class ThreadReply:
    def __init__(
        self,
        client: AsyncWebClient,
        budget: RateBudget,
        key: ThreadKey,
        *,
        recipient_user_id: str,
        update_seconds: float,
        recipient_team_id: str | None = None,
        on_first_post: Callable[[], Awaitable[None]],
        on_user_stop: Callable[[], None],
        bot_name: str = "the bot",
        status_shown_at: float | None = None,
        turn_id: str | None = None,
    ) -> None:
        self.client = client
        self.budget = budget
        self.key = key
        self.turn_id = turn_id
        self.recipient_user_id = recipient_user_id
        self.recipient_team_id = recipient_team_id or key.team_id
        self.update_seconds = update_seconds
        self._on_first_post = on_first_post
        self._on_user_stop = on_user_stop
        self.bot_name = bot_name

        self.mode = "idle"  # idle -> stream | fallback; "gone" when nothing can be posted
        self._outbox: list[dict[str, Any]] = []  # stream chunks not yet sent, in order
        self._cards: dict[str, _Card] = {}
        self._msg = _Message()
        self._answer_chars = 0
        self._break_before_text = False
        self._held = ""  # the end of the answer so far, if it may be the start of a mention
        self._truncated = False
        self._posted = False
        # Set already when the message was received (SlackSurface.show_working), unless long ago.
        recent = status_shown_at is not None and time.monotonic() - status_shown_at < STATUS_REFRESH_SECONDS
        self._status_set = recent
        self._last_status = status_shown_at if recent and status_shown_at is not None else 0.0
        self._last_write = 0.0
        self._dirty = asyncio.Event()
        self._closing = asyncio.Event()
        self._io = asyncio.Lock()
        self._closed = False
        self._flusher: asyncio.Task[None] | None = None
        self._status_task: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self.full_text: list[str] = []  # the whole answer, for a file when it is too long
        # Outputs too long for a task card: posted whole as text files with the turn's files.
        self.long_outputs: list[tuple[str, str]] = []
        self.posted_ts: list[str] = []  # every message this reply created, oldest first

    # --- lifecycle --------------------------------------------------------------------------------

    async def begin(self) -> None:
        """Show within a second that the thread is being worked on (a status under the thread)."""
        self._flusher = asyncio.create_task(self._flush_loop())
        if not self._status_set:
            # Not awaited: the status must not delay the model request (finish waits for it, so it
            # never waits for rate budget either: without room it is skipped).
            self._status_task = asyncio.create_task(self._set_status(STATUS_TEXT, optional=True))

    async def handle(self, events: list[TurnEvent]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                text = event.text
                if self._break_before_text and self._answer_chars and not text.startswith("\n"):
                    # Claude's text before and after a code step are separate blocks: keep them
                    # separate paragraphs rather than running the sentences together.
                    text = "\n\n" + text
                self._break_before_text = False
                # A mention split over two deltas must not pass as two harmless halves (safe_text).
                ready, self._held = split_unfinished(self._held + text)
                self._add_text(neutralize_mentions(ready))
                continue
            self._release_held()
            self._break_before_text = True
            if isinstance(event, StepStarted):
                self._cards[event.step_id] = _Card(event.title, StepStatus.RUNNING)
                self._outbox.append(render.task_started(event))
            elif isinstance(event, StepFinished):
                card = self._cards.setdefault(event.step_id, _Card("Code", StepStatus.RUNNING))
                card.status = event.status
                card.output = render.step_output(event)
                if render.output_overflows(event):
                    name = f"output-{len(self.long_outputs) + 1}.txt"
                    self.long_outputs.append((name, render.full_output(event, card.title)))
                    card.output += f"\n(full output in `{name}`)"
                self._outbox.append(render.task_finished(event, card.title, card.output))
            elif isinstance(event, Notice):
                self._add_text(render.notice_line(neutralize_mentions(event.text)), answer=False)
            elif isinstance(event, ResponseRestarted):
                self._add_text(
                    render.notice_line("The connection to Claude dropped; picking up again."), answer=False
                )
        self._dirty.set()

    def _release_held(self) -> None:
        """The tail of the answer held back in case it was the start of a mention: no more text is
        coming before a step, a notice or the end, so it goes out as it is (made safe)."""
        if self._held:
            held, self._held = self._held, ""
            self._add_text(neutralize_mentions(held))

    def _add_text(self, text: str, *, answer: bool = True) -> None:
        if answer:
            self.full_text.append(text)
            self._answer_chars += len(text)
            if self._answer_chars > render.FILE_ANSWER_CHARS:
                # Far too long for messages: the rest only goes into the file posted at the end.
                if not self._truncated:
                    self._truncated = True
                    self._queue_text(
                        render.notice_line("The answer is long; the full version follows as a file.")
                    )
                return
        self._queue_text(text)

    def _queue_text(self, text: str) -> None:
        if self._outbox and self._outbox[-1]["type"] == "markdown_text":
            self._outbox[-1] = {"type": "markdown_text", "text": self._outbox[-1]["text"] + text}
        else:
            self._outbox.append({"type": "markdown_text", "text": text})

    async def note(self, text: str) -> None:
        """A progress note from sandbox code (the `post_update` tool)."""
        await self.handle([Notice(text)])

    async def _flush_loop(self) -> None:
        """Send buffered output at most once per `update_seconds`; exits when the reply is finished.

        Never cancelled mid-write (a write may be waiting out a 429): `finish` signals and waits."""
        while True:
            await self._dirty.wait()
            if self._closed:
                return
            self._dirty.clear()
            wait = self._last_write + self.update_seconds - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), wait)
                if self._closing.is_set():
                    return
            try:
                async with self._io:
                    await self._flush(final=False)
                if not self._posted and self._status_set:
                    await self._refresh_status()
            except Exception:
                # Live updates are best effort; the final flush in `finish` sends what is left.
                log.exception("updating the answer in Slack failed")
            if self._unsent():
                # Held back by the rate budget: try again after the interval, not at the next event
                # (which may be minutes away, at the end of a long code step).
                asyncio.get_running_loop().call_later(
                    max(self.update_seconds, RETRY_SECONDS), self._dirty.set
                )

    def _unsent(self) -> bool:
        if self.mode == "gone":
            return False
        return bool(self._outbox) or (self.mode == "fallback" and bool(self._changed_and_unseen()))

    async def _refresh_status(self) -> None:
        if time.monotonic() - self._last_status > STATUS_REFRESH_SECONDS:
            await self._set_status(STATUS_TEXT, optional=True)

    # --- writing ----------------------------------------------------------------------------------

    async def _flush(self, *, final: bool, blocks: list[dict[str, Any]] | None = None) -> None:
        """Send what is buffered. Intermediate flushes may be skipped for lack of rate budget."""
        if self.mode == "gone":
            return
        if self.mode == "idle":
            if not self._outbox and not final:
                return
            await self._open_stream()
        while self.mode == "stream" and (self._outbox or final):
            if not await self._stream_step(final=final, blocks=blocks):
                break
            if not self._outbox and final:
                return
        if self.mode == "fallback":
            await self._fallback_step(final=final, blocks=blocks)

    async def _open_stream(self) -> None:
        """A new stream message; plain messages when the rate budget has no room for one (a stream
        costs a start and a stop)."""
        if self.budget.try_take("chat.startStream", "chat.stopStream"):
            await self._start_stream()
        else:
            self._to_fallback([])

    async def _start_stream(self) -> None:
        await self._first_post()
        chunks = [
            *self._take_chunks(self._room()),
            {"type": "blocks", "blocks": render.stop_controls(str(self.key), self.turn_id)},
        ]
        try:
            resp = await self.client.chat_startStream(
                channel=self.key.channel_id,
                thread_ts=self.key.thread_ts,
                recipient_user_id=self.recipient_user_id,
                recipient_team_id=self.recipient_team_id,
                chunks=chunks,
            )
        except CallFailed as exc:
            log.warning("chat.startStream failed (%s); falling back to a plain message", _failure(exc))
            self._to_fallback(chunks[:-1])
            return
        self.mode = "stream"
        self._msg = _Message(ts=str(resp["ts"]))
        self.posted_ts.append(str(resp["ts"]))
        self._sent(chunks)

    async def _stream_step(self, *, final: bool, blocks: list[dict[str, Any]] | None) -> bool:
        """Append (or, when final or the message is full, stop) the stream. False: stop looping."""
        full = self._text_waiting() > self._room()
        if not final and not full:
            if not self.budget.try_take("chat.appendStream"):
                return False
            chunks = self._take_chunks(self._room(), whole_lines=True)
            if not chunks:
                return False
            try:
                await self.client.chat_appendStream(
                    channel=self.key.channel_id, ts=self._msg.ts or "", chunks=chunks
                )
            except CallFailed as exc:
                return self._stream_failed(exc, chunks)
            self._sent(chunks)
            return False
        # Stop this stream: the final one with the closing controls, or a full one to roll over.
        chunks = self._take_chunks(self._room())
        carry = ""
        opener = render.open_fence(self._msg.sent_text + _text_of(chunks))
        closing_fence: dict[str, Any] | None = None
        if self._outbox and opener is not None:
            closing_fence = {"type": "markdown_text", "text": "\n" + render.closing_fence(opener) + "\n"}
            chunks.append(closing_fence)
            carry = opener + "\n"
        self.budget.refresh("chat.stopStream")
        try:
            await self.client.chat_stopStream(
                channel=self.key.channel_id,
                ts=self._msg.ts or "",
                chunks=chunks or None,
                blocks=blocks if final and not self._outbox else None,
            )
        except CallFailed as exc:
            return self._stream_failed(exc, [c for c in chunks if c is not closing_fence])
        self._sent(chunks)
        if not self._outbox:
            self.mode = "done"
            return False
        if carry:
            self._outbox.insert(0, {"type": "markdown_text", "text": carry})
        # The message is full: go on in a new one.
        self.mode = "idle"
        await self._open_stream()
        return self.mode == "stream"

    def _stream_failed(self, exc: BaseException, chunks: list[dict[str, Any]]) -> bool:
        """The stream refused `chunks`: go on in plain messages."""
        code = _failure(exc)
        refused = [c for c in chunks if c["type"] != "blocks"]
        if code == "stopped_by_user":
            # The person pressed Slack's own stop on the stream (the agent_session_stopped event may
            # have stopped the turn already). What the model wrote after that is not shown, but
            # the closing line of a turn that is ending is.
            log.info("stream stopped by the user in Slack")
            self._on_user_stop()
            self._to_fallback(refused if self._closed else [])
        else:
            log.warning("streaming failed (%s); going on in a plain message", code)
            if code not in STREAM_OVER:
                self._close_abandoned_stream()
            self._to_fallback(refused)
        return False

    def _close_abandoned_stream(self) -> None:
        """Stop a stream given up on while it may still be open, so it does not show as in progress
        until Slack expires it (best effort, in the background)."""
        ts = self._msg.ts
        if ts is None or not self.budget.try_take("chat.stopStream"):
            return

        async def stop() -> None:
            with contextlib.suppress(*CallFailed):
                await self.client.chat_stopStream(channel=self.key.channel_id, ts=ts)

        task = asyncio.create_task(stop())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _to_fallback(self, unsent: list[dict[str, Any]]) -> None:
        """Go on in plain messages with `unsent` first. The message written so far is left as it is
        (editing it would replace what it shows with only the rest); when it ended inside a code
        block, the next message opens that block again."""
        opener = render.open_fence(self._msg.sent_text)
        self._restore(unsent)
        if opener is not None and unsent:
            self._outbox.insert(0, {"type": "markdown_text", "text": opener + "\n"})
        self.mode = "fallback"
        self._msg = _Message()

    async def _fallback_step(self, *, final: bool, blocks: list[dict[str, Any]] | None) -> None:
        """Plain messages: post one, then edit it in place while the rate budget allows; start a new
        one when it is full. When no edit is allowed at the end, what is not shown yet goes into a new
        message instead of waiting up to a minute for `chat.update` room."""
        for chunk in self._take_all():
            if chunk["type"] == "markdown_text":
                self._msg.pieces.append(("text", chunk["text"]))
            elif chunk["type"] == "task_update" and not any(
                p == ("card", chunk["id"]) for p in self._msg.pieces
            ):
                self._msg.pieces.append(("card", chunk["id"]))
        while True:
            # Taken before rendering: a message over the size limit is flattened into its text
            # (its steps' lines included), after which the pieces not yet seen cannot be told apart.
            unseen = self._changed_and_unseen()
            content, rest = self._render_fallback()
            if not content.strip() and not final:
                return
            done = not rest
            closing = blocks if final and done else None
            if self._msg.ts is None:
                await self.budget.take_post(self.key.channel_id)
                await self._first_post()
                if not await self._post_message(content, closing):
                    return
            elif (content != self._msg.shown or closing) and not (
                self.budget.try_take("chat.update") and await self._update_message(content, closing)
            ):
                if not (final or rest):
                    return  # try again at the next flush
                # No room (or no way) to edit at the end: what is not shown yet goes into a new message.
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
            and piece[1] in self._cards
            and self._cards[piece[1]].status != msg.shown_cards.get(piece[1])
        ]
        return changed + msg.pieces[msg.shown_pieces :]

    def _mark_shown(self, content: str) -> None:
        msg = self._msg
        msg.shown = content
        msg.shown_pieces = len(msg.pieces)
        msg.shown_cards = {
            value: self._cards[value].status
            for kind, value in msg.pieces
            if kind == "card" and value in self._cards
        }

    def _render_fallback(self) -> tuple[str, str]:
        """The current fallback message's Markdown, and any text that does not fit in it."""
        out: list[str] = []
        for kind, value in self._msg.pieces:
            if kind == "text":
                out.append(value)
            else:
                card = self._cards.get(value)
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

    async def _post_message(self, content: str, blocks: list[dict[str, Any]] | None) -> bool:
        try:
            resp = await self.client.chat_postMessage(
                channel=self.key.channel_id,
                thread_ts=self.key.thread_ts,
                text=_plain_fallback(content),
                blocks=[{"type": "markdown", "text": content or " "}, *(blocks or [])],
                unfurl_links=False,  # no link previews: see bot.slack.safe_text
                unfurl_media=False,
            )
        except SlackApiError as exc:
            explain_exception(exc, "chat.postMessage", self.bot_name)
            self.mode = "gone"
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chat.postMessage failed (%r); trying again at the next update", exc)
            return False
        self._msg.ts = str(resp["ts"])
        self._mark_shown(content)
        self.posted_ts.append(self._msg.ts)
        return True

    async def _update_message(self, content: str, blocks: list[dict[str, Any]] | None) -> bool:
        try:
            await self.client.chat_update(
                channel=self.key.channel_id,
                ts=self._msg.ts or "",
                text=_plain_fallback(content),
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

    # --- outbox bookkeeping -----------------------------------------------------------------------

    def _room(self) -> int:
        return max(0, render.MESSAGE_CHARS - len(self._msg.sent_text))

    def _text_waiting(self) -> int:
        return sum(len(c["text"]) for c in self._outbox if c["type"] == "markdown_text")

    def _take_chunks(self, room: int, *, whole_lines: bool = False) -> list[dict[str, Any]]:
        """Chunks that fit in the current message; text is cut at a safe boundary when it does not.

        With `whole_lines`, text that brings the message near its limit is taken only up to its last
        safe line end: a streamed message cannot take text back, so one that fills up mid-line would
        end mid-sentence (or mid-table) and the rest would start the next message."""
        taken: list[dict[str, Any]] = []
        while self._outbox:
            chunk = self._outbox[0]
            if chunk["type"] != "markdown_text":
                taken.append(self._outbox.pop(0))
                continue
            text = chunk["text"]
            fits = len(text) <= room
            near_limit = whole_lines and room - len(text) < NEAR_LIMIT and not text.endswith("\n")
            if fits and not near_limit:
                taken.append(self._outbox.pop(0))
                room -= len(text)
                continue
            if fits:
                cut = render.choose_cut(text, len(text) - 1, hard=False)  # up to its last line end
            elif room > 0:
                # Cut mid-line (a sentence, a table row) only when the message holds nothing else.
                cut = render.choose_cut(text, room, hard=not (self._msg.sent_text or taken))
            else:
                cut = 0
            if cut > 0:
                taken.append({"type": "markdown_text", "text": text[:cut]})
            self._outbox[0] = {"type": "markdown_text", "text": text[cut:]}
            break
        return taken

    def _take_all(self) -> list[dict[str, Any]]:
        taken, self._outbox = self._outbox, []
        return taken

    def _restore(self, chunks: list[dict[str, Any]]) -> None:
        self._outbox[:0] = chunks

    def _sent(self, chunks: list[dict[str, Any]]) -> None:
        text = _text_of(chunks)
        self._msg.sent_text += text
        self._last_write = time.monotonic()

    async def _first_post(self) -> None:
        if not self._posted:
            self._posted = True
            await self._on_first_post()

    # --- status -----------------------------------------------------------------------------------

    async def _set_status(self, status: str, *, optional: bool = False) -> None:
        if await set_thread_status(self.client, self.budget, self.key, status, wait=not optional):
            self._status_set = bool(status)
            self._last_status = time.monotonic()

    # --- the end of the turn ----------------------------------------------------------------------

    async def finish(self, *, closing: str | None, retry: bool) -> None:
        """Flush everything with the closing line (if any) and the controls, then clear the status."""
        blocks = render.after_controls(str(self.key), retry=retry)
        self._release_held()
        self._closed = True
        self._closing.set()
        self._dirty.set()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._status_task is not None:
            await asyncio.gather(self._status_task, return_exceptions=True)
        for step_id, card in self._cards.items():
            if card.status is StepStatus.RUNNING:
                # Stopped, timed out or cut off: the step will not finish, so it must not look running.
                card.status = StepStatus.FAILED
                card.output = "(did not finish)"
                self._outbox.append(
                    render.task_finished(StepFinished(step_id, card.status), card.title, card.output)
                )
        if closing:
            self._queue_text(render.warning_line(closing) if not closing.startswith(("\n", ">")) else closing)
        try:
            async with self._io:
                if self.mode == "idle" and not self._outbox:
                    self._queue_text(" ")
                await self._flush(final=True, blocks=blocks)
        except Exception:
            log.exception("posting the end of the answer to Slack failed")
        if self._status_set:
            self._status_set = False
            await self._set_status("", optional=True)

    @property
    def answer_too_long(self) -> bool:
        return self._truncated

    @property
    def posted(self) -> bool:
        return self._posted


def _text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["text"] for c in chunks if c["type"] == "markdown_text")


def _plain_fallback(markdown: str) -> str:
    """`text` for notifications and screen readers next to a markdown block."""
    flat = " ".join(markdown.split())
    return flat[:300] or "…"
