"""Slash commands, button presses and their `response_url`s.

A slash command is delivered as a `slash_commands` envelope that accepts a response payload; Slack
waits 3 s for the ack and shows the ack's `text`/`blocks` to the invoking user (ephemeral unless
`response_type: "in_channel"`). Commands cannot be run in threads (§2.7), so payloads never carry
`thread_ts`. A button press is a `block_actions` interactive payload built from the message's real blocks.
Both come with a `response_url` on the emulator that accepts `respond()` posts: up to 5 uses in 30 min.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from .blocks import action_ids, ensure_block_ids, find_action_element
from .constants import (
    APP_ID,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_S,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
)
from .messaging import new_bot_message, post_ephemeral, store_bot_message
from .models import JSON, Channel, Envelope, Message, ResponseUrlPost
from .payloads import interactive_fields, message_blocks, message_json

if TYPE_CHECKING:
    from .core import Core


@dataclass
class ResponseUrl:
    id: str
    token: str
    kind: Literal["commands", "actions"]
    channel: str
    user: str
    created_at: float
    source_ts: str | None = None
    source_ephemeral: bool = False
    thread_ts: str | None = None
    uses: int = 0


class Interactions:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.response_urls: dict[str, ResponseUrl] = {}
        self.posts: list[ResponseUrlPost] = []
        self._by_envelope: dict[str, ResponseUrl] = {}

    # ---------------------------------------------------------------- urls
    def _new_url(self, kind: Literal["commands", "actions"], channel: str, user: str, **extra: Any) -> str:
        record = ResponseUrl(
            id=self.core.ids.digits(13),
            token=self.core.ids.secret(24),
            kind=kind,
            channel=channel,
            user=user,
            created_at=self.core.now(),
            **extra,
        )
        self.response_urls[record.id] = record
        return f"{self.core.base_url}{kind}/{TEAM_ID}/{record.id}/{record.token}"

    async def handle(self, request: web.Request) -> web.Response:
        """`POST /commands|actions/<team>/<id>/<token>`: what Bolt's `respond()` calls."""
        record = self.response_urls.get(request.match_info["url_id"])
        if record is None or record.token != request.match_info["token"]:
            return web.json_response({"ok": False, "error": "invalid_token"}, status=404)
        raw = await request.text()
        if not raw.strip().startswith("{"):
            # form-encoded `payload=<json>` is also accepted
            field = (await request.post()).get("payload")
            raw = field if isinstance(field, str) else ""
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        status: int = 200
        answer: JSON = {"ok": True}
        if not isinstance(body, dict):
            status, answer = 400, {"ok": False, "error": "invalid_payload"}
        elif self.core.now() - record.created_at > RESPONSE_URL_TTL_S:
            status, answer = 404, {"ok": False, "error": "expired_url"}
        elif record.uses >= RESPONSE_URL_MAX_USES:
            status, answer = 404, {"ok": False, "error": "used_url"}
        self.posts.append(
            ResponseUrlPost(record.id, body if isinstance(body, dict) else {}, self.core.now(), status)
        )
        if status == 200 and isinstance(body, dict):
            record.uses += 1
            await self.apply(record, body)
        self.core.notify()
        return web.json_response(answer, status=status)

    async def apply(self, record: ResponseUrl, body: JSON) -> None:
        posted = self.apply_now(record, body)
        if posted is not None and self.core.settings.echo_bot_messages:
            await self.core.events.bot_message(posted)

    def apply_now(self, record: ResponseUrl, body: JSON) -> Message | None:
        """Show a response as Slack would: replace/delete the source, post in channel, or ephemeral.

        Synchronous so that an ack's text lands before anything the app sends afterwards; returns the
        in-channel message whose echo event is still to be delivered.
        """
        core = self.core
        channel = core.ws.channels[record.channel]
        text = str(body.get("text") or "")
        blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else None
        thread_ts = body.get("thread_ts") or record.thread_ts
        source = self._source(record, channel)
        if body.get("delete_original") and source is not None:
            if record.source_ephemeral:
                channel.ephemerals.remove(source)
                core.notify()
            else:
                core.ws.remove(channel.id, source.ts)
            return None
        if body.get("replace_original") and source is not None:
            source.text, source.derived_blocks = text, None
            source.blocks = ensure_block_ids(blocks, core.ids.block_id) if blocks is not None else None
            core.notify()
            return None
        if body.get("response_type") == "in_channel":
            message = new_bot_message(core, channel, text=text, blocks=blocks, thread_ts=thread_ts)
            return store_bot_message(core, message)
        post_ephemeral(core, channel, record.user, text=text, blocks=blocks, thread_ts=thread_ts)
        return None

    def _source(self, record: ResponseUrl, channel: Channel) -> Message | None:
        if record.source_ts is None:
            return None
        if record.source_ephemeral:
            return next((m for m in channel.ephemerals if m.ts == record.source_ts), None)
        return channel.messages.get(record.source_ts)

    def on_ack(self, envelope: Envelope) -> None:
        """A slash command's ack payload is shown to the user like a `respond()` (§2.7)."""
        record = self._by_envelope.get(envelope.envelope_id)
        payload = envelope.ack_payload
        if record is None or envelope.type != "slash_commands" or not payload:
            return
        if payload.get("text") or payload.get("blocks"):
            posted = self.apply_now(record, payload)
            if posted is not None and self.core.settings.echo_bot_messages:
                self.core.spawn(self.core.events.bot_message(posted))

    # ------------------------------------------------------- slash commands
    async def run_slash_command(self, user: str, channel_ref: str, command: str, text: str) -> JSON:
        core = self.core
        person = core.ws.resolve_user(user)
        channel = core.ws.resolve_channel(channel_ref)
        response_url = self._new_url("commands", channel.id, person.id)
        record = self.response_urls[response_url.rsplit("/", 2)[-2]]
        payload: JSON = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel.id,
            "channel_name": "directmessage" if channel.kind == "im" else channel.name,
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": core.modals.issue_trigger(person.id),
        }
        envelope = await core.events.deliver("slash_commands", payload)
        self._by_envelope[envelope.envelope_id] = record
        await self.await_ack(envelope, f"slash command {command}")
        return dict(envelope.ack_payload or {})

    async def await_ack(self, envelope: Envelope, what: str) -> None:
        timeout = self.core.settings.slash_ack_timeout_s
        try:
            await self.core.wait_until(lambda: envelope.acked, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{what} was not acknowledged within {timeout:.1f} s "
                "(Slack would show the user 'operation_timeout')"
            ) from None

    # -------------------------------------------------------------- buttons
    async def press_button(
        self, user: str, channel_ref: str, message_ts: str, action_id: str, value: str | None
    ) -> JSON:
        core = self.core
        person = core.ws.resolve_user(user)
        channel = core.ws.resolve_channel(channel_ref)
        message = channel.messages.get(message_ts)
        ephemeral = False
        if message is None:
            message = next(
                (m for m in channel.ephemerals if m.ts == message_ts and m.ephemeral_to == person.id), None
            )
            ephemeral = message is not None
        if message is None:
            raise LookupError(f"no message {message_ts} visible to {person.id} in {channel.id}")
        blocks = message_blocks(core, message)
        found = find_action_element(blocks, action_id)
        if found is None:
            raise LookupError(f"no element with action_id={action_id!r}; present: {action_ids(blocks)}")
        element, block_id = found
        thread_ts = message.thread_ts if message.is_reply else None
        response_url = self._new_url(
            "actions",
            channel.id,
            person.id,
            source_ts=message.ts,
            source_ephemeral=ephemeral,
            thread_ts=thread_ts,
        )
        container: JSON = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": ephemeral,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload: JSON = {
            **interactive_fields(person, "block_actions"),
            "container": container,
            "trigger_id": core.modals.issue_trigger(person.id),
            "channel": {"id": channel.id, "name": "directmessage" if channel.kind == "im" else channel.name},
        }
        if not ephemeral:
            payload["message"] = message_json(core, message)
        payload.update(
            state={"values": {}},
            response_url=response_url,
            actions=[self._action(element, block_id, value)],
        )
        envelope = await core.events.deliver("interactive", payload)
        await self.await_ack(envelope, f"button {action_id}")
        return dict(envelope.ack_payload or {})

    def _action(self, element: JSON, block_id: str, value: str | None) -> JSON:
        action: JSON = {"action_id": element["action_id"], "block_id": block_id}
        kind = element.get("type", "button")
        if kind == "button":
            action["text"] = element.get("text", {"type": "plain_text", "text": "", "emoji": True})
            action["value"] = value if value is not None else element.get("value", "")
            if "style" in element:
                action["style"] = element["style"]
        elif kind in ("static_select", "external_select"):
            options = element.get("options") or []
            chosen = next((o for o in options if o.get("value") == value), options[0] if options else {})
            action["selected_option"] = chosen
        elif value is not None:
            action["value"] = value
        action["type"] = kind
        action["action_ts"] = self.core.ids.next_ts()
        return action
