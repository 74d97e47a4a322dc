"""The thread buttons: Stop, New session and Retry, each checked before it acts, and audited.

A press acts only on the thread its button is in (bot/slack/buttons.py), only for someone who may use
the bot there (bot/slack/access.py), and New session only for the thread's starter, someone who took
part or an admin. A refused press changes nothing; the presser is told why (only they see it) and the
attempt goes to the audit log, as does every stop, reset and retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncRespond

from bot.engine import Engine
from bot.model import ThreadKey
from bot.slack import render
from bot.slack.access import AccessGate, place_of
from bot.slack.auditing import audit
from bot.slack.buttons import acts_on, may_start_over, pressed_in, thread_of_value
from bot.store import Store

log = logging.getLogger(__name__)

ELSEWHERE = "That button belongs to another thread, so I didn't do anything."
NOT_YOURS = (
    "Only the people taking part in this thread (or an admin) can start it over, so I didn't. "
    "Mention me in a new message to start your own."
)


class Controls:
    def __init__(self, engine: Engine, store: Store, gate: AccessGate, *, team_id: str) -> None:
        self.engine = engine
        self.store = store
        self.gate = gate
        self.team_id = team_id

    async def stop(self, body: Mapping[str, Any], action: Mapping[str, Any], respond: AsyncRespond) -> None:
        thread_value, turn_id = render.parse_stop_value(str(action.get("value") or ""))
        key = await self._checked(body, render.STOP_ACTION, thread_value, respond)
        if key is None:
            return
        user = _presser(body)
        if await self.engine.stop(key, user, turn_id=turn_id):
            await audit(self.store, user, "stop", thread=key, detail={"turn": turn_id})
        else:
            await _say(respond, "Nothing is running in this thread.")

    async def new_session(
        self, body: Mapping[str, Any], action: Mapping[str, Any], respond: AsyncRespond
    ) -> None:
        key = await self._checked(body, render.NEW_SESSION_ACTION, str(action.get("value") or ""), respond)
        if key is None:
            return
        user = _presser(body)
        people = await self.store.thread_people(key)
        if not may_start_over(
            user, starter=people.starter, participants=people.participants, admin=self.gate.is_admin(user)
        ):
            await self._refused(user, key, render.NEW_SESSION_ACTION, "not in the thread")
            await _say(respond, NOT_YOURS)
            return
        try:
            await self.engine.reset(key, user)
        except Exception:
            log.exception("new session failed")
            await self.engine.slack.post_line(
                key, "I couldn't start a new session just now; press the button again."
            )
            return
        await audit(self.store, user, "reset", thread=key)
        await self.engine.slack.post_line(
            key,
            f":arrows_counterclockwise: <@{user}> started a new session: I've forgotten this thread's "
            "conversation and its sandbox (variables and files). The next message starts fresh.",
        )

    async def retry(self, body: Mapping[str, Any], action: Mapping[str, Any], respond: AsyncRespond) -> None:
        key = await self._checked(body, render.RETRY_ACTION, str(action.get("value") or ""), respond)
        if key is None:
            return
        count = await self.engine.retry(key)
        if count:
            await audit(self.store, _presser(body), "retry", thread=key, detail={"messages": count})
        else:
            await _say(respond, "There is nothing left to retry here.")

    async def _checked(
        self, body: Mapping[str, Any], button: str, value: str, respond: AsyncRespond
    ) -> ThreadKey | None:
        """The thread the press may act on, or None (the presser told why, the attempt audited)."""
        user = _presser(body)
        key = acts_on(body, thread_of_value(value), self.team_id)
        if key is None:
            where = pressed_in(body)
            await self._refused(
                user,
                None,
                button,
                "another thread",
                channel_id=where.channel_id if where else None,
                named=value,
            )
            await _say(respond, ELSEWHERE)
            return None
        team = (body.get("user") or {}).get("team_id")
        denial = await self.gate.check(user, place_of(key.channel_id), team_id=team, team_known=bool(team))
        if denial is not None:
            await self._refused(user, key, button, denial.reason.value)
            await _say(respond, denial.message)
            return None
        return key

    async def _refused(
        self,
        user: str,
        key: ThreadKey | None,
        button: str,
        why: str,
        *,
        channel_id: str | None = None,
        named: str | None = None,
    ) -> None:
        detail: dict[str, Any] = {"button": button, "why": why}
        if named is not None:
            detail["value"] = named[:200]
        await audit(self.store, user, "button_refused", thread=key, channel_id=channel_id, detail=detail)


def _presser(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


async def _say(respond: AsyncRespond, text: str) -> None:
    """A line only the presser sees, under the message they pressed."""
    await respond(text=text, response_type="ephemeral", replace_original=False)
