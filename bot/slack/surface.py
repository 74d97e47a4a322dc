"""Everything the engine asks of Slack, behind one object: replies, names, thread history, files."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.model import Inbound, InboundFile, ThreadKey
from bot.slack.access import AccessGate
from bot.slack.errors import CallFailed, Explained, error_code, explain_exception, failure
from bot.slack.files_in import Download, SlackFileFetcher
from bot.slack.files_out import LocalFile, UploadFailed, upload_to_thread
from bot.slack.inbound import clean_text, files_of, from_event
from bot.slack.lookups import Lookups
from bot.slack.rate_limits import REACTION, RateBudget
from bot.slack.reply import STREAM_MAX_SECONDS, ThreadReply
from bot.slack.status import STATUS_TEXT, set_thread_status

log = logging.getLogger(__name__)

USER_CACHE_SIZE = 5000


@dataclass(frozen=True)
class ThreadMessage:
    ts: str
    user_id: str
    name: str
    text: str
    is_bot: bool
    files: tuple[InboundFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "user_id": self.user_id,
            "name": self.name,
            "text": self.text,
            "is_bot": self.is_bot,
            "files": [f.name for f in self.files],
        }


class SlackSurface:
    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        budget: RateBudget,
        fetcher: SlackFileFetcher,
        access: AccessGate,
        *,
        bot_user_id: str,
        bot_name: str,
        update_seconds: float,
        needs_mention: Callable[[str], bool] = lambda _channel: False,
        stream_max_seconds: float = STREAM_MAX_SECONDS,
    ) -> None:
        # Per channel: `ONLY_WHEN_MENTIONED`, or what an admin set for it (`/claude config`).
        self.needs_mention = needs_mention
        self.client = client
        self.session = session
        self.budget = budget
        self.fetcher = fetcher
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.update_seconds = update_seconds
        self.stream_max_seconds = stream_max_seconds
        self.access = access
        self.accounts = access.accounts
        self._channels: Lookups[str] = Lookups(USER_CACHE_SIZE)
        # When show_working set a thread's status (the reply then does not set it again).
        self.status_shown: dict[ThreadKey, float] = {}
        # Threads whose sign of life waits for room (show_working).
        self._life_wanted: set[ThreadKey] = set()

    def reply(
        self,
        key: ThreadKey,
        *,
        recipient_user_id: str,
        recipient_team_id: str,
        on_first_post: Callable[[], Awaitable[None]],
        turn_id: str | None = None,
    ) -> ThreadReply:
        shown = self.status_shown.pop(key, None)

        async def first_post() -> None:
            self._life_wanted.discard(key)  # a sign of life still waiting for room is not needed now
            await on_first_post()

        return ThreadReply(
            self.client,
            self.budget,
            key,
            recipient_user_id=recipient_user_id,
            recipient_team_id=recipient_team_id,
            update_seconds=self.update_seconds,
            on_first_post=first_post,
            stream_max_seconds=self.stream_max_seconds,
            bot_name=self.bot_name,
            status_shown_at=shown,
            turn_id=turn_id,
        )

    async def show_working(self, key: ThreadKey, received: float, message_ts: str, reaction: str) -> None:
        """The first thing a person sees, right after their message is stored: the thread's status.
        Set here rather than when the turn starts, so it never waits behind other threads' work.
        When Slack's limits leave no room, it waits first in line for a status or else a reaction
        on the message (whichever has room first), unless the answer shows before that."""
        # Marked before the call: a turn that starts meanwhile must not set the same status again.
        self.status_shown[key] = time.monotonic()
        if await set_thread_status(self.client, self.budget, key, STATUS_TEXT, wait=False):
            metrics.FIRST_FEEDBACK_SECONDS.observe(time.monotonic() - received)
            return
        self._life_wanted.add(key)
        try:
            method = await self.budget.take_sign_of_life()
        finally:
            wanted = key in self._life_wanted
            self._life_wanted.discard(key)
        if not wanted:  # the answer showed first: it is the sign of life
            self.budget.give_back(method)
            return
        try:
            if method == REACTION:
                await self.client.reactions_add(channel=key.channel_id, timestamp=message_ts, name=reaction)
            else:
                await self.client.assistant_threads_setStatus(
                    channel_id=key.channel_id, thread_ts=key.thread_ts, status=STATUS_TEXT
                )
        except CallFailed as exc:
            log.info("%s failed: %s (no sign of life before the answer)", method, failure(exc))
            return
        metrics.FIRST_FEEDBACK_SECONDS.observe(time.monotonic() - received)

    # --- people and places ------------------------------------------------------------------------

    async def user_name(self, user_id: str) -> str:
        try:
            return (await self.accounts.get(user_id)).name
        except CallFailed as exc:
            log.info("users.info %s failed: %s (names fall back to ids)", user_id, failure(exc))
            return user_id

    async def channel_label(self, key: ThreadKey) -> str:
        if key.channel_id.startswith("D"):
            return "a direct message with one person"
        return await self._channels.get(key.channel_id, lambda: self._fetch_label(key.channel_id))

    async def _fetch_label(self, channel_id: str) -> str:
        try:
            resp = await self.client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            log.info("conversations.info failed: %s (channel names are optional)", error_code(exc))
            return "a Slack channel"
        name = resp["channel"].get("name")
        return f"the #{name} channel" if name else "a Slack channel"

    # --- thread history ---------------------------------------------------------------------------

    async def thread_messages(self, key: ThreadKey, limit: int = 1000) -> list[ThreadMessage]:
        """The thread as people see it, oldest first (paginated, deduped by ts), without the messages
        of people who may not use the bot here: what they wrote never reaches Claude."""
        seen: dict[str, ThreadMessage] = {}
        cursor: str | None = None
        while True:
            await self.budget.take("conversations.replies")
            resp = await self.client.conversations_replies(
                channel=key.channel_id, ts=key.thread_ts, limit=200, cursor=cursor
            )
            for m in resp.get("messages") or []:
                ts = str(m.get("ts"))
                if ts in seen:
                    continue
                is_bot = bool(m.get("bot_id")) or m.get("user") == self.bot_user_id
                user_id = str(m.get("user") or m.get("bot_id") or "")
                if not is_bot and not await self.access.allows(user_id, key.channel_id, _team_of(m)):
                    continue
                name = self.bot_name if m.get("user") == self.bot_user_id else await self.user_name(user_id)
                seen[ts] = ThreadMessage(
                    ts=ts,
                    user_id=user_id,
                    name=name,
                    text=clean_text(str(m.get("text") or ""), self.bot_user_id),
                    is_bot=is_bot,
                    files=files_of(m),
                )
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not resp.get("has_more", True):
                break
        ordered = sorted(seen.values(), key=lambda m: float(m.ts))
        return ordered[-limit:]

    async def missed_messages(self, key: ThreadKey, after_ts: str, known: set[str]) -> list[Inbound]:
        """Messages people posted in the thread after `after_ts` that never reached the store.

        A replica that dies after receiving an event but before storing it leaves Slack to deliver
        it again only after a timeout, by which time later messages of the thread may have been
        answered. Asking Slack for the thread before each follow-up turn finds such messages so they
        are answered in order. Optional work: skipped when the rate budget is spent."""
        if not self.budget.try_take("conversations.replies"):
            return []
        try:
            resp = await self.client.conversations_replies(
                channel=key.channel_id, ts=key.thread_ts, oldest=after_ts, inclusive=False, limit=200
            )
        except SlackApiError as exc:
            log.info("conversations.replies failed: %s (lost deliveries are not looked for)", error_code(exc))
            return []
        found: list[Inbound] = []
        for m in resp.get("messages") or []:
            ts = str(m.get("ts", ""))
            if not ts or ts in known or float(ts) <= float(after_ts) or ts == key.thread_ts:
                continue
            # A message from the thread's history carries its files: no twin to wait for.
            event = dict(
                m, channel=key.channel_id, thread_ts=m.get("thread_ts") or key.thread_ts, type="message"
            )
            candidate = from_event(
                event,
                team_id=key.team_id,
                event_id=None,
                bot_user_id=self.bot_user_id,
                only_when_mentioned=self.needs_mention(key.channel_id),
            )
            if candidate is None:
                continue
            inbound = candidate.inbound
            # Delivered, it would have been turned away at the door (bot/slack/access.py).
            if await self.access.allows(inbound.user_id, key.channel_id, inbound.user_team or key.team_id):
                found.append(inbound)
        return found

    async def bot_messages_after(self, key: ThreadKey, after_ts: str | None) -> list[tuple[str, str]]:
        """The bot's own messages in the thread newer than `after_ts` (or the root): (ts, text)."""
        await self.budget.take("conversations.replies")
        oldest = after_ts or key.thread_ts
        resp = await self.client.conversations_replies(
            channel=key.channel_id, ts=key.thread_ts, oldest=oldest, inclusive=False, limit=200
        )
        return [
            (str(m["ts"]), str(m.get("text") or ""))
            for m in resp.get("messages") or []
            if m.get("user") == self.bot_user_id and float(m["ts"]) > float(oldest)
        ]

    async def mark_interrupted(self, key: ThreadKey, ts: str, text: str, mark: str) -> None:
        """Add `mark` to a message a crashed replica left: its stream is finished with it, or, when the
        stream was already finished (the replica died between its last post and saving the turn), the
        message is edited to end with it, so no finished-looking answer stays unmarked."""
        await self.budget.take("chat.stopStream")
        try:
            await self.client.chat_stopStream(
                channel=key.channel_id, ts=ts, chunks=[{"type": "markdown_text", "text": mark}]
            )
            return
        except SlackApiError as exc:
            if error_code(exc) != "message_not_in_streaming_state":
                log.info("closing an orphaned stream: %s", error_code(exc))
                return
        if mark.strip() in text:
            return
        await self.budget.take("chat.update")
        try:
            await self.client.chat_update(channel=key.channel_id, ts=ts, markdown_text=text + mark)
        except SlackApiError as exc:
            log.info("marking an interrupted answer: %s", error_code(exc))

    # --- files ------------------------------------------------------------------------------------

    def open_file(self, file: InboundFile, *, max_bytes: int) -> AbstractAsyncContextManager[Download]:
        """The attachment's bytes as a stream (resolve Slack Connect stubs first: `resolve_file`)."""
        return self.fetcher.open(file, max_bytes=max_bytes)

    async def resolve_file(self, file: InboundFile) -> InboundFile:
        return await self.fetcher.resolve(file)

    async def upload_files(
        self, key: ThreadKey, files: list[LocalFile], *, comment: str | None = None
    ) -> list[str]:
        """Post files into the thread. Returns lines for the person about what could not be posted."""
        try:
            done = await upload_to_thread(
                self.client, self.session, self.budget, key, files, initial_comment=comment
            )
        except SlackApiError as exc:
            return [self._explain(exc, "files.completeUploadExternal").user]
        except (UploadFailed, aiohttp.ClientError) as exc:
            log.error("file upload to Slack failed: %r", exc)
            return [
                "I couldn't upload the files to Slack (the upload failed); they are still in the sandbox."
            ]
        return [f"`{name}` is empty (0 bytes), so I didn't attach it." for name in done.empty]

    # --- small posts ------------------------------------------------------------------------------

    async def post_line(
        self, key: ThreadKey, text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> str | None:
        """A short message in the thread. Returns its ts, or None when it could not be posted."""
        await self.budget.take_post(key.channel_id)
        try:
            resp = await self.client.chat_postMessage(
                channel=key.channel_id,
                thread_ts=key.thread_ts,
                text=text,
                blocks=[{"type": "markdown", "text": text}, *(blocks or [])],
                unfurl_links=False,  # no link previews: see bot.slack.safe_text
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._explain(exc, "chat.postMessage")
            return None
        return str(resp["ts"])

    async def react(self, key: ThreadKey, ts: str, name: str, received: float) -> None:
        """An acknowledgement reaction. Optional: skipped when the rate budget is spent."""
        if not self.budget.try_take("reactions.add"):
            return
        try:
            await self.client.reactions_add(channel=key.channel_id, timestamp=ts, name=name)
        except SlackApiError as exc:
            if error_code(exc) != "already_reacted":
                log.info("reactions.add failed: %s", error_code(exc))
            return
        metrics.FIRST_FEEDBACK_SECONDS.observe(time.monotonic() - received)

    def _explain(self, exc: SlackApiError, method: str) -> Explained:
        return explain_exception(exc, method, self.bot_name)


def _team_of(message: dict[str, Any]) -> str | None:
    """The author's own workspace, as a message from the thread's history gives it."""
    return str(message.get("user_team") or message.get("team") or "") or None
