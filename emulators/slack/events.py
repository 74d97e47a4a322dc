"""Turning workspace changes into the events Slack sends a subscribed app, and routing them.

Which events exist follows §2.2-2.3: a mention in a channel the bot is in yields `app_mention` AND the
twin `message` (subtype `file_share` when files are attached); DMs yield only `message`
(`channel_type: "im"`); conversations the bot is not in yield nothing. How the twins of a mention
arrive varies on Slack, and is chosen per message (`MentionTwins`, README "Events"). Delivery goes to
Socket Mode or to signed HTTP POSTs, whichever is active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, get_args

from .constants import BOT_USER_ID, TEAM_ID
from .models import JSON, Channel, Envelope, FileRecord, Message
from .payloads import event_callback, message_json

if TYPE_CHECKING:
    from .core import Core

# How the two events of a mention in a channel arrive (README "Events" cites each):
# app_mention_first    both, app_mention first, both with the files (what the docs describe)
# message_first        both, the message first (no order is guaranteed)
# sparse_mention_first app_mention without `files`/`upload` first, then the message with them
# sparse_mention_last  the message with its files first, then app_mention without them
# message_only         no app_mention at all, only the message
MentionTwins = Literal[
    "app_mention_first", "message_first", "sparse_mention_first", "sparse_mention_last", "message_only"
]
MENTION_TWINS: tuple[str, ...] = get_args(MentionTwins)


class EventBus:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._first_event_deliveries = 0
        # Told of each first delivery of an event (a seeded chaos plan schedules its duplicates).
        self.on_first_delivery: Callable[[Envelope], None] | None = None

    # ------------------------------------------------------------ delivery
    def subscribed(self, subscription: str) -> bool:
        return subscription in self.core.settings.subscriptions

    async def emit(self, event: JSON, channel_id: str | None) -> Envelope:
        """Wrap `event` in an event_callback with a fresh event_id and deliver it."""
        core = self.core
        event_ts = str(event.get("event_ts") or event.get("ts") or core.ids.next_ts())
        payload = event_callback(event, core.ids.event_id(), int(float(event_ts)), channel_id)
        return await self.deliver("events_api", payload)

    async def deliver(self, kind: str, payload: JSON) -> Envelope:
        """Deliver a payload (`events_api`, `slash_commands`, `interactive`) over the active transport."""
        core = self.core
        envelope = Envelope(
            envelope_id=core.ids.uuid(),
            type=kind,
            payload=payload,
            # §10.2: only slash commands (and view submissions) accept a response payload in the ack.
            accepts_response_payload=kind == "slash_commands"
            or (kind == "interactive" and payload.get("type") == "view_submission"),
            transport="http" if core.http.url else "socket",
        )
        core.record_envelope(envelope)
        await self._send(envelope)
        if kind == "events_api":
            self._first_event_deliveries += 1
            every = core.settings.deliver_twice_every
            if every and self._first_event_deliveries % every == 0:
                duplicate = self.make_retry(
                    envelope, "timeout" if envelope.transport == "socket" else "http_timeout"
                )
                duplicate.duplicate_of = envelope.envelope_id
                await self._send(duplicate)
            if self.on_first_delivery is not None:
                self.on_first_delivery(envelope)
        return envelope

    def make_retry(self, previous: Envelope, reason: str) -> Envelope:
        """A redelivery: new envelope id, same payload (same event_id), retry_attempt + 1."""
        core = self.core
        retry = Envelope(
            envelope_id=core.ids.uuid(),
            type=previous.type,
            payload=previous.payload,
            accepts_response_payload=previous.accepts_response_payload,
            retry_attempt=previous.retry_attempt + 1,
            retry_reason=reason,
            transport=previous.transport,
            duplicate_of=previous.duplicate_of or previous.envelope_id,
        )
        previous.redelivered_as = retry.envelope_id
        core.record_envelope(retry)
        return retry

    async def redeliver(self, previous: Envelope, reason: str) -> Envelope:
        retry = self.make_retry(previous, reason)
        await self._send(retry)
        return retry

    async def _send(self, envelope: Envelope) -> None:
        if envelope.transport == "http":
            self.core.http.send(envelope)
        else:
            await self.core.socket.send(envelope)

    # ------------------------------------------------------------- messages
    def _delivers_messages(self, channel: Channel) -> bool:
        return BOT_USER_ID in channel.members and self.subscribed(channel.subscription)

    def _message_event(self, message: Message, channel: Channel) -> JSON:
        event = message_json(self.core, message, for_event=True)
        event.update(channel=channel.id, event_ts=message.ts, channel_type=channel.channel_type)
        return event

    async def human_message(
        self, message: Message, *, mentions_bot: bool, twins: MentionTwins = "app_mention_first"
    ) -> list[Envelope]:
        channel = self.core.ws.channels[message.channel]
        events: list[JSON] = []
        if self._delivers_messages(channel):
            events.append(self._message_event(message, channel))
        if (
            mentions_bot
            and channel.kind != "im"
            and BOT_USER_ID in channel.members
            and self.subscribed("app_mention")
            and twins != "message_only"
        ):
            mention = message_json(self.core, message, for_event=True)
            mention.pop("subtype", None)
            if twins in ("sparse_mention_first", "sparse_mention_last"):
                mention.pop("files", None)
                mention.pop("upload", None)
            mention["type"] = "app_mention"
            mention.update(channel=channel.id, event_ts=message.ts)
            position = len(events) if twins in ("message_first", "sparse_mention_last") else 0
            events.insert(position, mention)
        sent = [await self.emit(event, channel.id) for event in events]
        if self.subscribed("file_shared") and BOT_USER_ID in channel.members:
            for file_id in message.file_ids:
                sent.append(await self.file_shared(self.core.ws.files[file_id], channel, message.user))
        return sent

    async def bot_message(self, message: Message) -> Envelope | None:
        """The `message` event about a bot's post (the app's own ones carry its user/bot_id, §2.6)."""
        channel = self.core.ws.channels[message.channel]
        if not self._delivers_messages(channel):
            return None
        return await self.emit(self._message_event(message, channel), channel.id)

    def _edit_body(self, message: Message, text: str, *, edited: bool) -> JSON:
        body: JSON = {"type": "message", "user": message.user, "text": text}
        if edited and message.edited:
            body["edited"] = dict(message.edited)
        if message.bot_id:
            body.update(bot_id=message.bot_id, app_id=message.app_id)
        body["team"] = TEAM_ID
        if message.is_reply and message.thread_ts is not None:
            root = self.core.ws.message(message.channel, message.thread_ts)
            body.update(thread_ts=message.thread_ts, parent_user_id=root.user if root else message.user)
        body["ts"] = message.ts
        if message.blocks is not None:
            body["blocks"] = message.blocks
        if message.client_msg_id:
            body["client_msg_id"] = message.client_msg_id
        return body

    async def message_changed(self, message: Message, previous_text: str) -> Envelope | None:
        channel = self.core.ws.channels[message.channel]
        if not self._delivers_messages(channel):
            return None
        current = self._edit_body(message, message.text, edited=True)
        current.update(source_team=TEAM_ID, user_team=TEAM_ID)
        ts = self.core.ids.next_ts()
        event: JSON = {
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": self._edit_body(message, previous_text, edited=False),
            "channel": channel.id,
            "hidden": True,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel.channel_type,
        }
        return await self.emit(event, channel.id)

    async def message_deleted(self, message: Message) -> Envelope | None:
        channel = self.core.ws.channels[message.channel]
        if not self._delivers_messages(channel):
            return None
        previous: JSON = {"type": "message", "text": message.text, "user": message.user}
        if message.bot_id:
            previous["bot_id"] = message.bot_id
        previous.update(team=TEAM_ID, ts=message.ts)
        if message.is_reply:
            previous["thread_ts"] = message.thread_ts
        ts = self.core.ids.next_ts()
        event: JSON = {
            "type": "message",
            "subtype": "message_deleted",
            "previous_message": previous,
            "channel": channel.id,
            "hidden": True,
            "deleted_ts": message.ts,
            "event_ts": ts,
            "ts": ts,
            "channel_type": channel.channel_type,
        }
        return await self.emit(event, channel.id)

    # ---------------------------------------------------------------- others
    async def file_shared(self, record: FileRecord, channel: Channel, user: str) -> Envelope:
        event: JSON = {
            "type": "file_shared",
            "channel_id": channel.id,
            "file_id": record.id,
            "user_id": user,
            "file": {"id": record.id},
            "event_ts": self.core.ids.next_ts(),
        }
        return await self.emit(event, channel.id)

    async def reaction_added(self, user: str, message: Message, name: str) -> Envelope | None:
        channel = self.core.ws.channels[message.channel]
        if not self.subscribed("reaction_added") or BOT_USER_ID not in channel.members:
            return None
        event: JSON = {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel.id, "ts": message.ts},
            "item_user": message.user,
            "event_ts": self.core.ids.next_ts(),
        }
        return await self.emit(event, channel.id)

    async def agent_session_stopped(
        self, user: str, channel: Channel, thread_ts: str, stopped: list[str]
    ) -> Envelope | None:
        """docs.slack.dev/reference/events/agent_session_stopped: `streaming_message_ts` lists the
        app's streams Slack stopped (empty when none was active)."""
        return await self._user_event(
            "agent_session_stopped", user, channel, thread_ts=thread_ts, streaming_message_ts=stopped
        )

    async def app_home_opened(
        self, user: str, channel: Channel, tab: str, view: JSON | None = None
    ) -> Envelope | None:
        """docs.slack.dev/reference/events/app_home_opened: `tab` is "home" or "messages"; opening a
        Home tab that had a view published before also carries that `view`."""
        fields: JSON = {"tab": tab}
        if view is not None:
            fields["view"] = view
        return await self._user_event("app_home_opened", user, channel, **fields)

    async def _user_event(self, etype: str, user: str, channel: Channel, **fields: Any) -> Envelope | None:
        """An event subscribed under its own name, about `user` in `channel`."""
        if not self.subscribed(etype):
            return None
        event: JSON = {"type": etype, "user": user, "channel": channel.id, **fields}
        event["event_ts"] = self.core.ids.next_ts()
        return await self.emit(event, channel.id)

    async def assistant_thread_started(
        self, user: str, channel: Channel, thread_ts: str, context_channel: str | None
    ) -> Envelope | None:
        if not self.subscribed("assistant_thread_started"):
            return None
        event: JSON = {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": user,
                "context": {"channel_id": context_channel, "team_id": TEAM_ID, "enterprise_id": None},
                "channel_id": channel.id,
                "thread_ts": thread_ts,
            },
            "event_ts": self.core.ids.next_ts(),
        }
        return await self.emit(event, channel.id)
