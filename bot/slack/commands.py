"""`/claude <question>`: stored, then acknowledged, then posted and queued, each step exactly once.

Slack waits 3 seconds for a command's acknowledgement and never sends the command again
(api.slack.com/interactivity/slash-commands; only Events API deliveries are retried), so a command
acknowledged and then lost with the process would go unanswered with nobody told. It is therefore
stored first (bot/store/commands.py, keyed by its trigger_id) and acknowledged only then. Its
question is posted in the channel carrying the trigger_id in its message metadata, recorded as
posted, and put in the inbox like a mention. A process that dies on the way leaves the command
open; `recover` (run at start-up and then every few seconds, in every process) completes it once its
owner is gone, first looking in the channel for a question posted just before the death, so nothing
is posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.engine import Engine
from bot.model import Inbound, InboundKind, ThreadKey
from bot.slack.errors import error_code, explain
from bot.store import SlashCommand, Store

log = logging.getLogger(__name__)

# Slack wants the acknowledgement within 3 s (slack-platform.md §1.4): storing gets 2 s of it, and a
# store slower than that is waited for after the acknowledgement.
STORE_SECONDS = 2.0
NOT_TAKEN = "Something went wrong on my side and I couldn't take that question; please ask it again."
# Message metadata on the posted question (docs.slack.dev/messaging/message-metadata): how a process
# completing the command after a crash recognises a question posted before it.
METADATA_TYPE = "claude_question"
LOOKUP_PAGES = 5


class CommandIntake:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        *,
        team_id: str,
        bot_user_id: str,
        bot_name: str,
        owner: str,
        interval: float,
    ) -> None:
        self.engine = engine
        self.store = store
        self.client = client
        self.session = session
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.owner = owner
        self.interval = interval
        self._working: set[str] = set()  # trigger ids this process is completing right now
        self._loop: asyncio.Task[None] | None = None

    async def take(self, payload: dict[str, Any], ack: Any) -> None:
        """A question command: store it, acknowledge it, then complete it."""
        command = SlashCommand(
            # Slack sends one with every command; without it the command cannot be a duplicate anyway.
            trigger_id=str(payload.get("trigger_id") or f"local-{uuid.uuid4().hex}"),
            team_id=self.team_id,  # one workspace: threads are keyed by the bot's own team
            channel_id=str(payload["channel_id"]),
            user_id=str(payload["user_id"]),
            text=str(payload.get("text") or "").strip(),
            response_url=payload.get("response_url") or None,
            received_at=time.time(),
        )
        self._working.add(command.trigger_id)
        try:
            stored = asyncio.ensure_future(self.store.commands.record(command, self.owner))
            try:
                await asyncio.wait_for(asyncio.shield(stored), STORE_SECONDS)
            except TimeoutError:
                pass  # acknowledged anyway (Slack shows an error after 3 s); the result is awaited below
            except Exception:
                log.exception("a command could not be stored; the person was asked to send it again")
                await ack(NOT_TAKEN)
                return
            await ack()
            try:
                new = await stored
            except Exception:
                log.exception("the command could not be stored; the person was asked to send it again")
                await self._tell(command, NOT_TAKEN)
                return
            if not new:
                return  # the same command delivered twice: it is being (or was) completed already
            try:
                await self._complete(command, retry=False)
            except Exception:
                log.exception(
                    "a command in %s was stored but not completed; it is tried again", command.channel_id
                )
        finally:
            self._working.discard(command.trigger_id)

    async def _complete(self, command: SlashCommand, *, retry: bool) -> None:
        """Post the question (unless it is posted already) and queue it. A step that fails leaves the
        command open for `recover` to finish (`retry`)."""
        ts = command.ts
        if ts is None and retry:
            # An earlier attempt (here, or in a process that died) may have posted the question
            # without recording it: its answer was lost, or the process died before the record.
            ts = await self._posted_before(command)
            if ts is not None:
                await self.store.commands.posted(command.trigger_id, ts, self.owner)
        if ts is None:
            # Slack's refusal is final: the person is told and the command closed. Any other failure
            # (the connection) leaves it unknown whether the message was posted: it goes up, and
            # `recover` looks before it posts again.
            try:
                posted = await self.client.chat_postMessage(
                    channel=command.channel_id,
                    text=f"<@{command.user_id}> asked: {command.text}",
                    blocks=[
                        {"type": "markdown", "text": f"<@{command.user_id}> asked:\n\n{_quote(command.text)}"}
                    ],
                    metadata={
                        "event_type": METADATA_TYPE,
                        "event_payload": {"trigger_id": command.trigger_id},
                    },
                )
            except SlackApiError as exc:
                explained = explain(error_code(exc), method="chat.postMessage", bot_name=self.bot_name)
                log.error("slash command could not post: %s", explained.operator)
                await self._tell(command, explained.user)
                await self.store.commands.finished(command.trigger_id, self.owner, queued=False)
                return
            ts = str(posted["ts"])
            await self.store.commands.posted(command.trigger_id, ts, self.owner)
        await self.engine.submit(
            Inbound(
                key=ThreadKey(command.team_id, command.channel_id, ts),
                ts=ts,
                user_id=command.user_id,
                text=command.text,
                kind=InboundKind.COMMAND,
            )
        )
        await self.store.commands.finished(command.trigger_id, self.owner, queued=True)

    async def _posted_before(self, command: SlashCommand) -> str | None:
        """The ts of this command's question if a previous owner posted it: found by its metadata among
        the bot's messages in the channel since the command arrived."""
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            page = await self.client.conversations_history(
                channel=command.channel_id,
                oldest=f"{command.received_at - 1:.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if (
                    message.get("user") == self.bot_user_id
                    and meta.get("event_type") == METADATA_TYPE
                    and (meta.get("event_payload") or {}).get("trigger_id") == command.trigger_id
                ):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None

    async def _tell(self, command: SlashCommand, text: str) -> None:
        """A line only the person who typed the command sees (through the command's response_url)."""
        if not command.response_url:
            return
        try:
            await AsyncWebhookClient(command.response_url, session=self.session).send(
                text=text, response_type="ephemeral"
            )
        except Exception as exc:
            log.warning("could not answer a command privately (%s)", type(exc).__name__)

    # --- recovery ---------------------------------------------------------------------------------

    async def recover(self) -> None:
        """Complete every open command whose process is gone (or whose step failed here)."""
        for command in await self.store.commands.orphaned(self.owner):
            if command.trigger_id in self._working:
                continue
            claimed = (
                command
                if command.owner == self.owner
                else await self.store.commands.claim(command, self.owner)
            )
            if claimed is None:
                continue  # another process took it first
            log.warning("completing a /claude command in %s its process left unfinished", command.channel_id)
            self._working.add(command.trigger_id)
            try:
                await self._complete(claimed, retry=True)
            except Exception:
                log.exception("completing a command in %s failed; it is tried again", command.channel_id)
            finally:
                self._working.discard(command.trigger_id)

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="command recovery")

    async def _run(self) -> None:
        while True:
            try:
                await self.recover()
            except Exception:
                log.exception("looking for unfinished commands failed")
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines()) or "> "
