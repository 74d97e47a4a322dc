"""Bolt listeners: events, the slash command, the buttons and the Home tab.

Messages are written to the durable inbox in listener *middleware*, which Bolt runs before it
acknowledges the event (slack-platform.md §1.4: event listeners are acked right before they run).
So an event is only acked once it is stored: if the store fails, Slack delivers it again. Every
event type the app subscribes to has a listener, even a no-op one, because Bolt leaves unmatched
events unacknowledged and Slack would keep redelivering them (§0, fact 2).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond

from bot.slack import render
from bot.slack.assistant_config import AssistantConfig
from bot.slack.assistant_modal import CALLBACK_ID
from bot.slack.controls import Controls
from bot.slack.home_tab import HomeTab
from bot.slack.intake import Intake
from bot.slack.slash import SlashCommand

log = logging.getLogger(__name__)

# Every event type listened to here must be subscribed in manifest.yaml (a test checks both ways).
# The Messages tab's suggested prompts are the manifest's (features.agent_view.suggested_prompts):
# Slack shows them itself, so they have one source and no call on every open of the tab; opening the
# Messages tab sends app_home_opened too (`tab: "messages"`), which needs nothing.
# No agent_session_stopped: Slack sends it only for sessions made with agents.sessions.setStatus
# (docs.slack.dev/reference/events/agent_session_stopped), which this bot does not create; its own
# Stop button stops a turn.
EVENT_TYPES = ("app_mention", "message", "app_home_opened")


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str
    team_id: str
    name: str


def register_listeners(
    app: AsyncApp,
    *,
    intake: Intake,
    slash: SlashCommand,
    controls: Controls,
    home: HomeTab,
    assistant: AssistantConfig,
    slash_command: str,
) -> None:
    async def persist(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        # Listener middleware runs before Bolt acknowledges the event: stored first, then acked.
        await intake.accept(body)
        await next()

    async def noop() -> None:
        return None

    app.event("app_mention", middleware=[persist])(noop)
    app.event("message", middleware=[persist])(noop)

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        # docs.slack.dev/reference/events/app_home_opened: `tab` is "home" or "messages".
        if event.get("tab") == "home" and event.get("user"):
            await home.opened(str(event["user"]))

    @app.command(slash_command)
    async def command(ack: Any, command: dict[str, Any]) -> None:
        await slash.handle(ack, command)

    @app.view(CALLBACK_ID)
    async def channel_settings(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Acknowledged by the handler: its ack carries the errors to show in the modal, if any.
        await assistant.submitted(ack, body, view)

    @app.action(render.STOP_ACTION)
    async def stop(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await controls.stop(body, action, respond)

    @app.action(render.NEW_SESSION_ACTION)
    async def new_session(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        await controls.new_session(body, action, respond)

    @app.action(render.RETRY_ACTION)
    async def retry(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await controls.retry(body, action, respond)
