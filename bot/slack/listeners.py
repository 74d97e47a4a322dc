"""Bolt listeners: events, the slash command and the buttons.

Messages are written to the durable inbox in listener *middleware*, which Bolt runs before it
acknowledges the event (slack-platform.md §1.4: event listeners are acked right before they run).
So an event is only acked once it is stored: if the store fails, Slack delivers it again. Every
event type the app subscribes to has a listener, even a no-op one, because Bolt leaves unmatched
events unacknowledged and Slack would keep redelivering them (§0, fact 2).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.engine import Engine
from bot.model import ThreadKey
from bot.slack import render
from bot.slack.commands import CommandIntake
from bot.slack.intake import Intake
from bot.store import Store

log = logging.getLogger(__name__)

# Every event type listened to here must be subscribed in manifest.yaml (a test checks both ways).
# The Messages tab's suggested prompts are the manifest's (features.agent_view.suggested_prompts):
# Slack shows them itself, so they have one source and no call on every open of the tab.
# No agent_session_stopped: Slack sends it only for sessions made with agents.sessions.setStatus
# (docs.slack.dev/reference/events/agent_session_stopped), which this bot does not create; its own
# Stop button stops a turn.
EVENT_TYPES = ("app_mention", "message")
# `/claude status` answers in its ack, due within 3 s (slack-platform.md §7): the store gets 2 s of it.
STATUS_SECONDS = 2.0


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str
    team_id: str
    name: str


def help_text(command: str, bot_name: str, skills: Sequence[tuple[str, str]] = ()) -> str:
    return "\n".join(
        [
            f"*{bot_name}* runs Python for you in a sandbox that lives as long as the thread.",
            f"• `{command} <question>` starts a new thread here and answers it, like mentioning @{bot_name}.",
            f"• Mention @{bot_name} in any channel I'm in (or DM me); attach CSV, Excel, PDF or image files.",
            "• Reply in the thread to continue: variables and files are still there.",
            "• Each answer has *New session* to start over; a running answer has *Stop*.",
            f"• `{command} status` shows what is running for you and your recent usage.",
            *([f"• Skills I can use to make files: {skills_list(skills)}."] if skills else []),
        ]
    )


def skills_list(skills: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"`{name}` ({about})" if about else f"`{name}`" for name, about in skills)


def thread_link(key: ThreadKey) -> str:
    return f"<https://slack.com/archives/{key.channel_id}/p{key.thread_ts.replace('.', '')}|thread>"


async def status_text(store: Store, user_id: str) -> str:
    running = await store.running_turns(user_id)
    day = await store.usage_since(user_id, time.time() - 86400)
    lines = []
    if running:
        now = time.time()
        lines.append(f"*Running for you now:* {len(running)}")
        lines += [f"• {thread_link(k)} for {int(now - started)} s" for k, started in running[:10]]
    else:
        lines.append("Nothing is running for you right now.")
    u = day.usage
    cached = f" ({100 * u.cache_read_tokens / u.total_input:.0f}% read from cache)" if u.total_input else ""
    lines.append(
        f"*Last 24 hours:* {day.turns} turns, {u.total_input:,} input tokens{cached}, {u.output_tokens:,} output tokens."
    )
    return "\n".join(lines)


def register_listeners(
    app: AsyncApp,
    *,
    engine: Engine,
    store: Store,
    intake: Intake,
    commands: CommandIntake,
    identity: BotIdentity,
    slash_command: str,
    skills: Sequence[tuple[str, str]] = (),
) -> None:
    async def persist(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        # Listener middleware runs before Bolt acknowledges the event: stored first, then acked.
        await intake.accept(body)
        await next()

    async def noop() -> None:
        return None

    app.event("app_mention", middleware=[persist])(noop)
    app.event("message", middleware=[persist])(noop)

    @app.command(slash_command)
    async def command(ack: Any, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        user = str(command["user_id"])
        if text.lower() in ("", "help"):
            await ack(help_text(slash_command, identity.name, skills))
            return
        if text.lower() == "status":
            try:
                # The answer goes in the ack, which Slack wants within 3 seconds, whatever the store
                # is busy with.
                answer = await asyncio.wait_for(status_text(store, user), STATUS_SECONDS)
            except Exception:
                log.exception("/claude status could not read the store in time")
                answer = "I couldn't look that up just now; try again in a moment."
            await ack(answer)
            return
        # A question: stored before it is acknowledged, since Slack never sends a command again.
        await commands.take(command, ack)

    @app.action(render.STOP_ACTION)
    async def stop(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        thread_value, turn_id = render.parse_stop_value(str(action["value"]))
        if not await engine.stop(ThreadKey.parse(thread_value), str(body["user"]["id"]), turn_id=turn_id):
            await respond(
                text="Nothing is running in this thread.", response_type="ephemeral", replace_original=False
            )

    @app.action(render.NEW_SESSION_ACTION)
    async def new_session(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        key = ThreadKey.parse(str(action["value"]))
        user = str(body["user"]["id"])
        try:
            await engine.reset(key, user)
        except Exception:
            log.exception("new session failed")
            await engine.slack.post_line(
                key, "I couldn't start a new session just now; press the button again."
            )
            return
        await engine.slack.post_line(
            key,
            f":arrows_counterclockwise: <@{user}> started a new session: I've forgotten this thread's conversation "
            "and its sandbox (variables and files). The next message starts fresh.",
        )

    @app.action(render.RETRY_ACTION)
    async def retry(ack: Any, action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        if not await engine.retry(ThreadKey.parse(str(action["value"]))):
            await respond(
                text="There is nothing left to retry here.", response_type="ephemeral", replace_original=False
            )
