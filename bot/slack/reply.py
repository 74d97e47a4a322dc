"""Live progress of one turn in its thread: status, the streamed answer, task cards, the final state.

The answer streams with `chat.startStream` / `appendStream` / `stopStream` (slack-platform.md §5.2),
each code run as a `task_update` card. Writes to Slack are buffered: at most one per
`stream_update_seconds` per thread, and intermediate updates are skipped when the method's rate
budget is spent. When streaming is unavailable or breaks mid-way, the rest goes to ordinary messages
(plain_messages.py), starting exactly where the stream stopped (nothing lost, nothing twice).

A stream is closed and the answer goes on in a new one when the message is full (everything it
carries counts, render.chunk_weight) and before Slack ends it on its own: streams stop taking
appends about five minutes after they start, even while they are being appended to
(`message_not_in_streaming_state`; slackapi/python-slack-sdk#1859, slackapi/node-slack-sdk#2702).
While the turn runs, its Stop button is a message of its own, deleted at the end (stop_button.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.model import (
    Citation,
    Notice,
    ResponseInterrupted,
    StepFinished,
    StepStarted,
    StepStatus,
    TextDelta,
    TextWithdrawn,
    ThreadKey,
    TurnEvent,
)
from bot.slack import render
from bot.slack.citations import Sources
from bot.slack.errors import CallFailed, failure
from bot.slack.outbox import Chunk, Outbox
from bot.slack.plain_messages import Card, PlainMessages
from bot.slack.rate_limits import RateBudget
from bot.slack.safe_text import neutralize_mentions, split_unfinished
from bot.slack.status import STATUS_REFRESH_SECONDS, STATUS_TEXT, set_thread_status
from bot.slack.stop_button import STOP_AFTER_SECONDS, StopButton
from bot.slack.withdraw import Piece, ShownLog, add_sent, trim_chunks, trim_texts

log = logging.getLogger(__name__)

# Stream errors after which the stream is no longer open (nothing to stop).
STREAM_OVER = frozenset({"message_not_in_streaming_state", "message_not_found", "stopped_by_user"})
# Output held back by the rate budget is tried again after at least this long.
RETRY_SECONDS = 0.5
# Slack ends a stream about 5 minutes after it started; a new one takes over well before that.
STREAM_MAX_SECONDS = 240.0


@dataclass
class _Stream:
    """The streamed message being written."""

    ts: str
    opened_at: float
    sent_text: str = ""
    sent_weight: int = 0  # its size as Slack counts it (render.chunk_weight)
    cards: set[str] = field(default_factory=set)  # the steps it shows
    pieces: list[Piece] = field(default_factory=list)  # what it shows, to rewrite it if need be


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
        bot_name: str = "the bot",
        status_shown_at: float | None = None,
        turn_id: str | None = None,
        stream_max_seconds: float = STREAM_MAX_SECONDS,
    ) -> None:
        self.client = client
        self.budget = budget
        self.key = key
        self.turn_id = turn_id
        self.recipient_user_id = recipient_user_id
        self.recipient_team_id = recipient_team_id or key.team_id
        self.update_seconds = update_seconds
        self.stream_max_seconds = stream_max_seconds
        self._on_first_post = on_first_post
        self.bot_name = bot_name

        self.mode = "idle"  # idle -> stream | fallback -> done; "gone" when nothing can be posted
        self._outbox = Outbox()  # chunks not yet sent, in order
        self._cards: dict[str, Card] = {}
        self._stream: _Stream | None = None
        self.posted_ts: list[str] = []  # every message of the answer, oldest first
        self._plain = PlainMessages(
            client,
            budget,
            key,
            self._cards,
            bot_name=bot_name,
            before_first_post=self._first_post,
            posted=self.posted_ts.append,
        )
        self._answer_chars = 0
        self._break_before_text = False
        self._held = ""  # the end of the answer so far, if it may be the start of a mention
        self._held_raw = 0  # answer characters (as the Claude side counts them) in `_held`
        self._shown = ShownLog()  # what was shown, in order, for a withdrawal (TextWithdrawn)
        self._truncated = False
        self._posted = False
        self._confirm_again = False  # see _first_post
        self._stop = StopButton(client, budget, key, turn_id)
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
        self._sources = Sources()  # web pages the answer cites, listed under it at the end

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
                raw = self._held_raw + len(event.text)
                ready, self._held = split_unfinished(self._held + text)
                self._held_raw = min(raw, len(self._held))
                self._add_text(neutralize_mentions(ready), raw=raw - self._held_raw)
                continue
            self._release_held()
            if isinstance(event, Citation):
                self._add_text(self._sources.marker(event))  # after the text it backs, same paragraph
                continue
            self._break_before_text = True
            if isinstance(event, StepStarted):
                self._shown.card(event.step_id)
                self._cards[event.step_id] = Card(event.title, StepStatus.RUNNING)
                self._outbox.add(render.task_started(event))
            elif isinstance(event, StepFinished):
                card = self._cards.setdefault(event.step_id, Card("Code", StepStatus.RUNNING))
                card.status = event.status
                card.output = render.step_output(event)
                if render.output_overflows(event):
                    name = f"output-{len(self.long_outputs) + 1}.txt"
                    self.long_outputs.append((name, render.full_output(event, card.title)))
                    card.output += f"\n(full output in `{name}`)"
                self._outbox.add(render.task_finished(event, card.title, card.output))
            elif isinstance(event, Notice):
                self._add_text(render.notice_line(neutralize_mentions(event.text)), answer=False)
            elif isinstance(event, ResponseInterrupted):
                self._add_text(
                    render.notice_line("The connection to Claude dropped mid-answer; going on from there."),
                    answer=False,
                )
            elif isinstance(event, TextWithdrawn):
                await self._withdraw(event)
        self._dirty.set()

    def _release_held(self) -> None:
        """The tail of the answer held back in case it was the start of a mention: no more text is
        coming before a step, a notice or the end, so it goes out as it is (made safe)."""
        if self._held:
            held, self._held = self._held, ""
            raw, self._held_raw = self._held_raw, 0
            self._add_text(neutralize_mentions(held), raw=raw)

    def _add_text(self, text: str, *, answer: bool = True, raw: int = 0) -> None:
        if answer:
            self.full_text.append(text)
            self._answer_chars += len(text)
            if self._answer_chars > render.FILE_ANSWER_CHARS:
                # Far too long for messages: the rest only goes into the file posted at the end.
                if not self._truncated:
                    self._truncated = True
                    notice = render.notice_line("The answer is long; the full version follows as a file.")
                    self._shown.other(len(notice))
                    self._outbox.add_text(notice)
                self._shown.answer(raw, len(text), 0)
                return
            self._shown.answer(raw, len(text), len(text))
        else:
            self._shown.other(len(text))
        self._outbox.add_text(text)

    async def _withdraw(self, event: TextWithdrawn) -> None:
        """Take the last `event.chars` characters of answer text back (a refusal) and show
        `event.reason` instead: from the answer file, from what is not sent yet, and from the message
        being written. A message cannot be edited while it streams (`streaming_state_conflict`,
        slack-platform.md §5.2), so its stream is stopped first and it goes on as a plain message,
        rewritten with chat.update. Text already in earlier messages of the reply stays."""
        chars = max(0, event.chars - self._held_raw)  # the held tail was never shown: it just goes
        self._held, self._held_raw = "", 0
        gone = self._shown.withdraw(chars)
        trim_texts(self.full_text, gone.full_chars)
        self._answer_chars -= gone.full_chars
        for card_id in gone.card_ids:
            self._cards.pop(card_id, None)
        async with self._io:
            self._outbox.release()  # the held end of a word is counted as shown (ShownLog)
            left = trim_chunks(self._outbox.chunks, gone.shown_chars, gone.card_ids)
            stream = self._stream
            written = left > 0 or bool(stream is not None and stream.cards & gone.card_ids)
            if written and self.mode == "stream":
                await self._stop_for_edit()
            if (left > 0 or gone.card_ids) and self.mode == "fallback":
                left = self._plain.trim(left, gone.card_ids)
            if left > 0:
                log.info("%d withdrawn characters were in earlier messages and stay there", left)
        self._add_text(render.warning_line(event.reason), answer=False)

    async def _stop_for_edit(self) -> None:
        """Stop the stream (its stop was paid for when it opened) so that its message can be edited."""
        stream = self._stream
        assert stream is not None
        self.budget.stop_now()
        try:
            await self.client.chat_stopStream(channel=self.key.channel_id, ts=stream.ts)
        except CallFailed as exc:
            if failure(exc) not in STREAM_OVER:
                log.warning("could not stop the stream to take text back (%s); it stays", failure(exc))
                return
        self.mode = "fallback"
        self._plain.adopt(stream.ts, stream.pieces)
        self._stream = None

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
                    if self.mode != "gone":
                        await self._stop.show()
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
        if self.mode == "fallback" and self._plain.unseen():
            return True
        return bool(self._outbox) or self._stream_aging() or self._stop.wanted()

    async def _refresh_status(self) -> None:
        if time.monotonic() - self._last_status > STATUS_REFRESH_SECONDS:
            await self._set_status(STATUS_TEXT, optional=True)

    # --- writing ----------------------------------------------------------------------------------

    async def _flush(self, *, final: bool, blocks: list[dict[str, Any]] | None = None) -> None:
        """Send what is buffered. Intermediate flushes may be skipped for lack of rate budget."""
        if self.mode in ("gone", "done"):
            return
        if final:
            self._outbox.release()  # the final write takes everything, whole words or not
        if self.mode == "idle":
            if not self._outbox and not final:
                return
            await self._open_stream(final=final)
        while self.mode == "stream" and (self._outbox or final or self._stream_aging()):
            if not await self._stream_step(final=final, blocks=blocks):
                break
        if self.mode == "fallback":
            self._last_write = time.monotonic()  # paces the edits of a plain message like appends
            await self._plain.step(self._outbox.take_all(), final=final, blocks=blocks)
            if self._plain.gone:
                self.mode = "gone"

    async def _open_stream(self, *, final: bool) -> None:
        """A new stream message (a start, and its stop promised), else a plain message. In a busy
        channel a live update takes whichever has room now, or waits for the next flush; the final
        answer waits its turn for whichever has room first: a congested thread then gets its whole
        answer in one write (paced_client.py)."""
        if self.budget.try_open_stream():
            await self._start_stream()
        elif self.budget.try_take_post(self.key.channel_id):
            self._to_fallback([], "")
            self._plain.post_paid()
        elif final:
            if await self.budget.take_answer(self.key.channel_id) == "stream":
                await self._start_stream()
            else:
                self._to_fallback([], "")
                self._plain.post_paid()

    async def _start_stream(self) -> None:
        try:
            await self._first_post()
        except BaseException:
            self.budget.stop_not_needed()
            raise
        chunks = self._outbox.take(render.STREAM_BUDGET, empty_message=True)
        try:
            resp = await self.client.chat_startStream(
                channel=self.key.channel_id,
                thread_ts=self.key.thread_ts,
                recipient_user_id=self.recipient_user_id,
                recipient_team_id=self.recipient_team_id,
                chunks=chunks,
            )
        except CallFailed as exc:
            log.warning("chat.startStream failed (%s); falling back to a plain message", failure(exc))
            self.budget.stop_not_needed()
            self._to_fallback(chunks, "")
            return
        self.mode = "stream"
        self._stream = _Stream(ts=str(resp["ts"]), opened_at=time.monotonic())
        self.posted_ts.append(self._stream.ts)
        self._sent(chunks)
        # Woken in time to hand over to a new stream even if nothing else happens meanwhile.
        asyncio.get_running_loop().call_later(self.stream_max_seconds, self._dirty.set)

    def _stream_aging(self) -> bool:
        """The stream is close to the end of the life Slack gives it: time to go on in a new one."""
        stream = self._stream
        return (
            self.mode == "stream"
            and stream is not None
            and time.monotonic() - stream.opened_at >= self.stream_max_seconds
        )

    async def _stream_step(self, *, final: bool, blocks: list[dict[str, Any]] | None) -> bool:
        """Append to the stream, or stop it: at the end with the closing controls, or to go on in a
        new message (it is full, or old). False: stop looping."""
        stream = self._stream
        assert stream is not None
        room = max(0, render.STREAM_BUDGET - stream.sent_weight)
        if not final and not self._stream_aging() and self._outbox.weight() <= room:
            if not self.budget.try_take("chat.appendStream"):
                return False
            chunks = self._outbox.take(room, whole_lines=True)
            if not chunks:
                return False
            try:
                await self.client.chat_appendStream(channel=self.key.channel_id, ts=stream.ts, chunks=chunks)
            except CallFailed as exc:
                return self._stream_failed(exc, chunks)
            self._sent(chunks)
            return False
        chunks = self._outbox.take(room, empty_message=not stream.sent_text and not stream.cards)
        going_on = bool(self._outbox) or not final
        carry = ""
        closing: list[Chunk] = []
        opener = render.open_fence(stream.sent_text + _text_of(chunks))
        if going_on and opener is not None:
            # The code block goes on in the next message: closed here, opened again there.
            closing.append(render.markdown_chunk("\n" + render.closing_fence(opener) + "\n"))
            carry = opener + "\n"
        running = (
            [s for s in sorted(stream.cards | _card_ids(chunks)) if self._is_running(s)] if going_on else []
        )
        closing += [render.task_continued(s, self._cards[s].title, where="below") for s in running]
        self.budget.stop_now()
        try:
            await self.client.chat_stopStream(
                channel=self.key.channel_id,
                ts=stream.ts,
                chunks=[*chunks, *closing] or None,
                blocks=None if going_on else blocks,
            )
        except CallFailed as exc:
            return self._stream_failed(exc, chunks)
        self._sent([*chunks, *closing])
        if not going_on:
            self.mode = "done"
            return False
        # Go on in a new message: the steps still running show there, then the rest of the answer.
        resumed = [render.task_continued(s, self._cards[s].title, where="above") for s in running]
        self._outbox.put_back([*resumed, *([render.markdown_chunk(carry)] if carry else [])])
        self.mode = "idle"
        self._stream = None
        if not self._outbox:
            return False  # a new stream opens with the next output
        await self._open_stream(final=final)
        return self.mode == "stream"

    def _is_running(self, step_id: str) -> bool:
        card = self._cards.get(step_id)
        return card is not None and card.status is StepStatus.RUNNING

    def _stream_failed(self, exc: BaseException, chunks: list[Chunk]) -> bool:
        """The stream refused `chunks`: go on in plain messages."""
        code = failure(exc)
        log.warning("streaming failed (%s); going on in a plain message", code)
        self._confirm_again = code in ("message_not_in_streaming_state", "message_not_found")
        if code not in STREAM_OVER:
            self._close_abandoned_stream()
        else:
            self.budget.stop_not_needed()
        stream = self._stream
        self._to_fallback(chunks, stream.sent_text if stream is not None else "")
        return False

    def _close_abandoned_stream(self) -> None:
        """Stop a stream given up on while it may still be open, so it does not show as in progress
        until Slack expires it (best effort, in the background)."""
        stream = self._stream
        if stream is None:
            return
        self.budget.stop_now()  # promised when it opened

        async def stop() -> None:
            with contextlib.suppress(*CallFailed):
                await self.client.chat_stopStream(channel=self.key.channel_id, ts=stream.ts)

        task = asyncio.create_task(stop())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _to_fallback(self, unsent: list[Chunk], sent_text: str) -> None:
        """Go on in plain messages with `unsent` first. The message written so far (`sent_text`) is
        left as it is (editing it would replace what it shows with only the rest); when it ended
        inside a code block, the next message opens that block again."""
        opener = render.open_fence(sent_text)
        self._outbox.put_back(unsent)
        if opener is not None and unsent:
            self._outbox.put_back([render.markdown_chunk(opener + "\n")])
        self.mode = "fallback"
        self._stream = None

    def _sent(self, chunks: list[Chunk]) -> None:
        stream = self._stream
        assert stream is not None
        stream.sent_text += _text_of(chunks)
        stream.sent_weight += sum(render.chunk_weight(c) for c in chunks)
        stream.cards |= _card_ids(chunks)
        add_sent(stream.pieces, chunks)
        self._last_write = time.monotonic()

    async def _first_post(self) -> None:
        if self._posted and self._confirm_again:
            # Our stream was stopped by someone else (Slack's expiry, or a replica that took the
            # thread over while this one stalled, and closed it): the store says which before a new
            # message goes out, so a stale replica cannot answer beside the new owner.
            self._confirm_again = False
            await self._on_first_post()
        if not self._posted:
            # Posted only once the store has it: a mark the store refuses (the turn is no longer this
            # process's, see bot/store/fencing.py) raises, and then nothing is posted. Calls come one
            # at a time (under `_io`), so waiting here cannot let a second post through unmarked.
            await self._on_first_post()
            self._posted = True
            if not self._closed:  # a turn still running: its Stop button follows the answer
                self._stop.answer_shown()
                asyncio.get_running_loop().call_later(STOP_AFTER_SECONDS, self._dirty.set)

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
        if self._sources:
            self._add_text(self._sources.text())
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
                self._outbox.add(
                    render.task_finished(StepFinished(step_id, card.status), card.title, card.output)
                )
        if closing:
            self._outbox.add_text(
                render.warning_line(closing) if not closing.startswith(("\n", ">")) else closing
            )
        try:
            async with self._io:
                await self._stop.remove()
                self._outbox.release()
                if self.mode == "idle" and not self._outbox:
                    self._outbox.add_text(" ")
                await self._flush(final=True, blocks=blocks)
        except Exception:
            log.exception("posting the end of the answer to Slack failed")
        if self._status_set:
            self._status_set = False
            await self._set_status("", optional=True)

    def abandon(self) -> None:
        """Write nothing more to the thread, at once: the turn lost its thread to another replica, which
        closes what is shown (a write under way still completes)."""
        self._closed = True
        self._closing.set()
        self._dirty.set()
        if self._status_task is not None:
            self._status_task.cancel()

    @property
    def answer_too_long(self) -> bool:
        return self._truncated

    @property
    def posted(self) -> bool:
        return self._posted


def _text_of(chunks: list[Chunk]) -> str:
    return "".join(c["text"] for c in chunks if c["type"] == "markdown_text")


def _card_ids(chunks: list[Chunk]) -> set[str]:
    return {str(c["id"]) for c in chunks if c["type"] == "task_update"}
