"""`/claude config`: the modal that sets a channel's assistant, who may open it, and its submission.

Who may: the bot's `ADMINS`, and among the people who may use the bot in the channel
(bot/slack/access.py), the workspace's admins and owners (users.info `is_admin` / `is_owner`:
docs.slack.dev/reference/objects/user-object) and the channel's creator (conversations.info
`creator`). Slack's Web API does not say who a channel's managers are, so they cannot be recognised:
a manager who is none of these asks one of them.

A trigger_id opens a modal only within 3 seconds of the command (views.open; the Bolt guides), and
the command's acknowledgement is due within 3 seconds too: the check gets ANSWER_SECONDS (its
lookups are cached), then the command is acknowledged and the modal opened at once. The submission
is checked again (the submitter, the channel named in the modal's private_metadata), stored, then
acknowledged (errors show under their inputs, `response_action: "errors"`); it is audited, and the
admin gets one line confirming what the channel has now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.assistants.configs import ChannelConfigs
from bot.governance.access import whom_to_ask
from bot.slack.access import AccessGate, place_of
from bot.slack.assistant_modal import Choices, build_modal, channel_of, parse_submission
from bot.slack.assistant_text import assistant_text
from bot.slack.auditing import audit
from bot.slack.errors import CallFailed, error_code, failure
from bot.slack.lookups import Lookups
from bot.slack.rate_limits import RateBudget
from bot.store import Store

log = logging.getLogger(__name__)

ANSWER_SECONDS = 2.0
CREATOR_MAX_AGE = 3600.0  # a channel's creator never changes; the cache only bounds memory
WHO_CAN = (
    "Only this channel's creator, workspace admins and the bot's admins ({ask}) can change how I work "
    "here. `{command} status` shows the current settings."
)
NOT_IN_DMS = "Settings are per channel: run `{command} config` in the channel you want to set up."
NOT_NOW = "I couldn't check who may change this channel just now; try again in a moment."
NOT_OPENED = "I couldn't open the settings (Slack said `{code}`); run `{command} config` again."
NOT_SAVED = "I couldn't save this just now; press Save again."
NO_LONGER = "You can no longer change this channel's settings."

Ack = Callable[..., Awaitable[None]]


class AssistantConfig:
    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        gate: AccessGate,
        configs: ChannelConfigs,
        choices: Choices,
        budget: RateBudget,
        *,
        command: str,
    ) -> None:
        self.client = client
        self.store = store
        self.gate = gate
        self.configs = configs
        self.choices = choices
        self.budget = budget
        self.command = command
        self._creators: Lookups[str] = Lookups(10_000, max_age=CREATOR_MAX_AGE)

    async def may_configure(self, user_id: str, channel_id: str) -> bool:
        """Whether this person may change the channel's assistant. Raises CallFailed when Slack
        cannot be asked."""
        if self.gate.is_admin(user_id):
            return True
        if await self.gate.check(user_id, place_of(channel_id)) is not None:
            return False  # someone who may not use the bot here (a guest, another organisation's)
        if (await self.gate.accounts.get(user_id)).is_admin:
            return True
        return await self._creators.get(channel_id, lambda: self._creator(channel_id)) == user_id

    async def _creator(self, channel_id: str) -> str:
        await self.budget.take("conversations.info")
        info = await self.client.conversations_info(channel=channel_id)
        return str((info.get("channel") or {}).get("creator") or "")

    async def _allowed(self, user_id: str, channel_id: str) -> bool | None:
        """may_configure within the time an acknowledgement leaves; None: not known in time."""
        try:
            return await asyncio.wait_for(self.may_configure(user_id, channel_id), ANSWER_SECONDS)
        except (TimeoutError, *CallFailed) as exc:
            log.warning("could not check whether %s may configure %s: %s", user_id, channel_id, failure(exc))
            return None

    async def describe(self, channel_id: str) -> str:
        return assistant_text(channel_id, await self.store.channel_settings(channel_id), self.choices)

    # --- the command ----------------------------------------------------------------------------

    async def open(self, ack: Ack, payload: dict[str, Any]) -> None:
        user = str(payload["user_id"])
        channel = str(payload.get("channel_id") or "")
        if not channel or channel.startswith("D"):
            await ack(NOT_IN_DMS.format(command=self.command))
            return
        allowed = await self._allowed(user, channel)
        if allowed is None:
            await ack(NOT_NOW)
            return
        if not allowed:
            await audit(self.store, user, "config_refused", channel_id=channel)
            await ack(WHO_CAN.format(ask=whom_to_ask(self.gate.policy.admins), command=self.command))
            return
        try:
            stored = await asyncio.wait_for(self.store.channel_settings(channel), ANSWER_SECONDS / 2)
        except Exception:
            log.exception("could not read the settings of %s to show them", channel)
            await ack(NOT_NOW)
            return
        await ack()
        try:
            await self.client.views_open(
                trigger_id=str(payload.get("trigger_id") or ""),
                view=build_modal(channel, stored, self.choices),
            )
        except SlackApiError as exc:
            code = error_code(exc)
            log.error("views.open failed for /claude config in %s: %s", channel, code)
            await self.gate.tell(user, channel, NOT_OPENED.format(code=code, command=self.command))

    # --- the submission -------------------------------------------------------------------------

    async def submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        channel = channel_of(view)
        if channel is None:
            log.warning("a channel settings modal came back without its channel; closed")
            await ack()
            return
        allowed = await self._allowed(user, channel)
        if not allowed:
            if allowed is False:
                await audit(self.store, user, "config_refused", channel_id=channel)
            await ack(response_action="errors", errors={"preset": NO_LONGER if allowed is False else NOT_NOW})
            return
        values = ((view.get("state") or {}).get("values")) or {}
        try:
            stored = await asyncio.wait_for(self.store.channel_settings(channel), ANSWER_SECONDS / 2)
            parsed = parse_submission(values, stored, self.choices)
            if parsed.errors:
                await ack(response_action="errors", errors=parsed.errors)
                return
            now = await asyncio.wait_for(
                self.store.update_channel_settings(channel, parsed.changes, by=user), ANSWER_SECONDS / 2
            )
        except Exception:
            log.exception("could not store the settings of %s", channel)
            await ack(response_action="errors", errors={"preset": NOT_SAVED})
            return
        await ack()
        self.configs.put(channel, now)  # this replica applies it at once; others at their next reload
        changed = {k: now.get(k) for k in set(stored) | set(now) if stored.get(k) != now.get(k)}
        await audit(self.store, user, "channel_config", channel_id=channel, detail={"changes": changed})
        await self.gate.tell(
            user, channel, "Saved. From the next question on:\n" + assistant_text(channel, now, self.choices)
        )
