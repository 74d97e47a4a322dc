"""Socket Mode: Bolt's handler, with message events taken straight from the receive loop.

Message events are the bulk of the traffic and each must be stored before it is acknowledged. In
slack_sdk's client a frame travels from the websocket reader to a queue, to a processing task, to a
listener task, to Bolt: four turns of the event loop before the handler runs. Under load (200 turns
starting their answers at once) each turn of the loop takes milliseconds, and profiling showed the
acknowledgements of even the bot's own message echoes waiting 20 to 50 ms. So `events_api` frames
carrying `app_mention` or `message` events are handled in the reader itself: one that needs no
storage (an echo, a message the bot ignores) is acknowledged at once, and the rest (both twins of a
mention among them: either may carry the files, bot/slack/inbound.py) are stored in a task of their
own and then acknowledged. Everything else (commands, buttons,
other events, `disconnect`) goes through slack_sdk and Bolt as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from bot.bounds import MAX_STORING_EVENTS, Full, Throttled
from bot.slack import event_shape
from bot.slack.access import AccessUndecided
from bot.slack.inbound import Candidate
from bot.slack.intake import MESSAGE_EVENTS, Intake

log = logging.getLogger(__name__)
_full = Throttled(log)


def message_envelope(frame: str) -> tuple[str, dict[str, Any]] | None:
    """(envelope id, payload) of a frame carrying a message event; None for any other frame."""
    try:
        body = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "events_api":
        return None
    payload = body.get("payload")
    envelope_id = body.get("envelope_id")
    if not isinstance(payload, dict) or not isinstance(envelope_id, str):
        return None
    event = payload.get("event")
    if not isinstance(event, dict) or event.get("type") not in MESSAGE_EVENTS:
        return None
    return envelope_id, payload


def malformed_event(frame: str) -> tuple[str, str] | None:
    """(envelope id, what is wrong) of an `events_api` frame Bolt could not route; None otherwise."""
    try:
        body = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "events_api":
        return None
    envelope_id, payload = body.get("envelope_id"), body.get("payload")
    if not isinstance(envelope_id, str) or not isinstance(payload, dict):
        return None
    why = event_shape.routing_problem(payload)
    return None if why is None else (envelope_id, why)


class MessageFastClient(SocketModeClient):
    def __init__(self, intake: Intake, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.intake = intake
        self._storing: set[asyncio.Task[None]] = set()

    async def enqueue_message(self, message: str) -> None:
        envelope = message_envelope(message)
        if envelope is None:
            refused = malformed_event(message)
            if refused is not None:
                envelope_id, why = refused
                # Acknowledged: Slack would only send the same broken event again.
                log.warning("ignoring a malformed event (envelope %s): %s", envelope_id, why)
                await self._ack(envelope_id)
                return
            await super().enqueue_message(message)
            return
        envelope_id, payload = envelope
        try:
            candidate = self.intake.candidate(payload)
        except Exception:
            log.exception("could not read an incoming message event; acknowledging it (it cannot be stored)")
            candidate = None
        if candidate is None:
            await self._ack(envelope_id)
            return
        if len(self._storing) >= MAX_STORING_EVENTS:
            # Not acknowledged: Slack delivers it again once the bot has caught up (bot/bounds.py).
            _full.warning("too many events are being stored: new ones are left for Slack to deliver again")
            return
        task = asyncio.create_task(self._store_then_ack(envelope_id, candidate))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)

    async def _store_then_ack(self, envelope_id: str, candidate: Candidate) -> None:
        try:
            await self.intake.store_candidate(candidate)
        except Full:
            return  # logged where it filled up; not acknowledged, Slack delivers it again
        except AccessUndecided as late:
            log.warning("%s; leaving the event unacknowledged for Slack to deliver again", late)
            return
        except Exception:
            # Not stored, so not acknowledged: Slack delivers it again.
            log.exception("could not store an incoming message; leaving it unacknowledged for redelivery")
            return
        await self._ack(envelope_id)

    async def _ack(self, envelope_id: str) -> None:
        try:
            await self.send_message(json.dumps({"envelope_id": envelope_id}))
        except Exception:
            # The connection went away: Slack redelivers (a stored message is then a duplicate).
            log.warning("could not acknowledge envelope %s; Slack will deliver it again", envelope_id)


class SocketHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, app_token: str, intake: Intake) -> None:
        # Not super().__init__: it would build a plain SocketModeClient (and its aiohttp session)
        # only for it to be replaced; this sets the same three attributes.
        self.app = app
        self.app_token = app_token
        self.client = MessageFastClient(
            intake, app_token=app_token, logger=app.logger, web_client=app.client, ping_interval=10
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
