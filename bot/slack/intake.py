"""Where Slack message events enter the bot: normalised, filtered, and stored in the durable inbox.

Both delivery paths use it: Bolt's listener middleware (HTTP mode) and the Socket Mode handler's
direct route for message events (socket.py). Either way the event is acknowledged only after
`accept` has stored it, so a crash before that point makes Slack deliver it again. Who may use the bot
is decided before anything is stored (bot/slack/access.py): a message turned away is acknowledged
with only its event id kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.engine import Engine
from bot.slack import event_shape
from bot.slack.access import AccessGate
from bot.slack.inbound import Candidate, from_event
from bot.store import Store

MESSAGE_EVENTS = ("app_mention", "message")
log = logging.getLogger(__name__)


def _type(event: dict[str, Any]) -> str:
    return repr(event.get("type"))[:40]


def _event_id(body: dict[str, Any]) -> str:
    return repr(body.get("event_id"))[:40]


class Intake:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        gate: AccessGate,
        *,
        team_id: str,
        bot_user_id: str,
        needs_mention: Callable[[str], bool],
    ) -> None:
        self.engine = engine
        self.store = store
        self.gate = gate
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        # Per channel: `ONLY_WHEN_MENTIONED`, or what an admin set for it (`/claude config`).
        self.needs_mention = needs_mention

    async def accept(self, body: dict[str, Any]) -> None:
        """Store the message of an `event_callback` body if the bot should answer it."""
        candidate = self.candidate(body)
        if candidate is not None:
            await self.store_candidate(candidate)

    def candidate(self, body: dict[str, Any]) -> Candidate | None:
        """What of the body the bot may answer (None: nothing; acknowledge without storing)."""
        event = body.get("event")
        if not isinstance(event, dict):
            return None
        wrong = event_shape.problem(body)
        if wrong is not None:
            # Acknowledged without storing: Slack would only send the same malformed event again.
            log.warning("ignoring a malformed %s event (%s): %s", _type(event), _event_id(body), wrong)
            return None
        candidate = from_event(
            event,
            team_id=self.team_id,
            event_id=body.get("event_id"),
            bot_user_id=self.bot_user_id,
            only_when_mentioned=self.needs_mention(str(event.get("channel") or "")),
        )
        # Only what must be stored before its acknowledgement makes a burst: the echoes of the bot's
        # own posts are acknowledged at once, and counting them made a steady 100 conversations look
        # like a burst, holding back every turn's start.
        if candidate is not None:
            self.store.arrivals.note()
        return candidate

    async def store_candidate(self, candidate: Candidate) -> None:
        """Store the message if its author may use the bot here. Raises (and the event stays
        unacknowledged, for Slack to deliver again) when it could not be stored or decided in time."""
        if await self.gate.admit(candidate):
            await self.engine.submit(candidate.inbound, in_conversation_only=candidate.needs_conversation)
