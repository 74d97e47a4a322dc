"""The Stop button of a running turn: a small message of its own, deleted when the turn ends.

It cannot ride on the streamed answer: a stream keeps every block it was sent (nothing takes content
back from a stream), so a Stop streamed with the answer would stay on it for good, looking live on a
finished answer. Slack's own stop button exists only for agent sessions
(docs.slack.dev/reference/events/agent_session_stopped), which this bot does not create.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.model import ThreadKey
from bot.slack import render
from bot.slack.errors import CallFailed, failure
from bot.slack.rate_limits import RateBudget

log = logging.getLogger(__name__)

# How long an answer is on screen before its turn's Stop button appears: a quick answer is over
# before anyone could press it, and would only flicker a button and notify the thread for nothing.
STOP_AFTER_SECONDS = 3.0


class StopButton:
    def __init__(
        self, client: AsyncWebClient, budget: RateBudget, key: ThreadKey, turn_id: str | None
    ) -> None:
        self.client = client
        self.budget = budget
        self.key = key
        self.turn_id = turn_id
        self._answer_shown_at: float | None = None
        self._ts: str | None = None
        self._given_up = False

    def answer_shown(self) -> None:
        """The turn's answer is on screen from now: the button follows STOP_AFTER_SECONDS later."""
        if self._answer_shown_at is None:
            self._answer_shown_at = time.monotonic()

    def wanted(self) -> bool:
        """It should be shown and is not (yet)."""
        return self._answer_shown_at is not None and self._ts is None and not self._given_up

    async def show(self) -> None:
        """Post it when it is due. One post per channel per second is all Slack allows, and a busy
        channel's posts are for answers: without the channel's whole burst free now, the next try
        (the reply's next flush) posts it."""
        due = self._answer_shown_at
        if not self.wanted() or due is None or time.monotonic() - due < STOP_AFTER_SECONDS:
            return
        if not self.budget.try_take_post(self.key.channel_id, spare=True):
            return
        try:
            resp = await self.client.chat_postMessage(
                channel=self.key.channel_id,
                thread_ts=self.key.thread_ts,
                text=render.STOP_TEXT,
                blocks=render.stop_controls(str(self.key), self.turn_id),
                unfurl_links=False,
                unfurl_media=False,
            )
        except CallFailed as exc:
            log.info("could not post the Stop button (%s); the turn goes on without one", failure(exc))
            self._given_up = True
            return
        self._ts = str(resp["ts"])

    async def remove(self) -> None:
        """The turn is over: its Stop button goes with it (and none is shown any more)."""
        self._given_up = True
        ts, self._ts = self._ts, None
        if ts is None:
            return
        await self.budget.take("chat.delete")
        try:
            await self.client.chat_delete(channel=self.key.channel_id, ts=ts)
        except CallFailed as exc:
            # What is left is a Stop of a finished turn: pressing it says nothing is running.
            log.warning("could not delete the Stop button of a finished turn: %s", failure(exc))
