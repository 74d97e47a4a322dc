"""`/claude`: help, status, usage, budget, or a question.

Everything but a question answers in the command's acknowledgement, which Slack wants within 3
seconds (slack-platform.md §7): the store gets 2 of them. A question is checked against who may use
the bot here before anything is stored (bot/slack/access.py), then stored before it is acknowledged
(bot/slack/commands.py), since Slack never sends a command again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.model import ThreadKey
from bot.slack.access import AccessGate, place_of
from bot.slack.assistant_config import AssistantConfig
from bot.slack.auditing import audit
from bot.slack.commands import CommandIntake
from bot.slack.spending_commands import SpendingCommands
from bot.slack.spending_text import is_budget_command
from bot.store import Store

log = logging.getLogger(__name__)

ANSWER_SECONDS = 2.0
NOT_NOW = "I couldn't look that up just now; try again in a moment."


def skills_list(skills: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"`{name}` ({about})" if about else f"`{name}`" for name, about in skills)


def help_text(command: str, bot_name: str, skills: Sequence[tuple[str, str]] = ()) -> str:
    return "\n".join(
        [
            f"*{bot_name}* runs Python for you in a sandbox that lives as long as the thread.",
            f"• `{command} <question>` starts a new thread here and answers it, like mentioning @{bot_name}.",
            f"• Mention @{bot_name} in any channel I'm in (or DM me); attach CSV, Excel, PDF or image files.",
            "• Reply in the thread to continue: variables and files are still there.",
            "• Each answer has *New session* to start over; a running answer has *Stop*.",
            f"• `{command} status` shows what is running for you and your recent usage.",
            f"• `{command} usage` shows what you spent today and this month, against your budgets.",
            f"• `{command} budget` shows this channel's budgets (admins change them: "
            f"`{command} budget daily 20 monthly 200`).",
            f"• `{command} config` sets how I work in this channel: persona, model, web, data sources, "
            "skills, budgets, whether thread replies need a mention (for the channel's creator and admins).",
            *([f"• Skills I can use to make files: {skills_list(skills)}."] if skills else []),
        ]
    )


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


class SlashCommand:
    def __init__(
        self,
        store: Store,
        gate: AccessGate,
        questions: CommandIntake,
        spending: SpendingCommands,
        assistant: AssistantConfig,
        *,
        command: str,
        bot_name: str,
        skills: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.skills = list(skills)
        self.store = store
        self.gate = gate
        self.questions = questions
        self.spending = spending
        self.assistant = assistant
        self.command = command
        self.bot_name = bot_name

    async def handle(self, ack: Callable[..., Awaitable[None]], payload: dict[str, Any]) -> None:
        text = str(payload.get("text") or "").strip()
        words = text.split()
        verb = words[0].lower() if words else ""
        user = str(payload["user_id"])
        channel = str(payload.get("channel_id") or "")
        if verb in ("", "help") and len(words) <= 1:
            await ack(help_text(self.command, self.bot_name, self.skills))
            return
        if verb == "status" and len(words) == 1:
            await ack(await self._in_time(self._status(user, channel)))
            return
        if verb == "config" and len(words) == 1:
            await self.assistant.open(ack, payload)
            return
        if verb == "usage" and len(words) == 1:
            await ack(await self._in_time(self.spending.usage(user, channel)))
            return
        if verb == "budget" and is_budget_command(words[1:]):
            await ack(await self._in_time(self.spending.budget(user, channel, words[1:])))
            return
        await self._question(ack, payload, user, channel)

    async def _status(self, user: str, channel: str) -> str:
        """What runs for the person, and, in a channel, how its assistant is set up."""
        mine = await status_text(self.store, user)
        if not channel or channel.startswith("D"):
            return mine
        return mine + "\n\n" + await self.assistant.describe(channel)

    async def _question(
        self, ack: Callable[..., Awaitable[None]], payload: dict[str, Any], user: str, channel: str
    ) -> None:
        try:
            # Slack says whose workspace a command comes from only as the app's: users.info tells.
            denial = await asyncio.wait_for(self.gate.check(user, place_of(channel)), ANSWER_SECONDS)
        except TimeoutError:
            log.warning("no access decision for %s's /claude question in time; asked to send it again", user)
            await ack(NOT_NOW)
            return
        if denial is not None:
            await audit(
                self.store, user, "denied", channel_id=channel, detail={"reason": denial.reason.value}
            )
            await ack(denial.message)
            return
        await self.questions.take(payload, ack)

    async def _in_time(self, answer: Awaitable[str]) -> str:
        try:
            # The answer goes in the ack, which Slack wants within 3 seconds, whatever the store is busy with.
            return await asyncio.wait_for(answer, ANSWER_SECONDS)
        except Exception:
            log.exception("a /claude answer could not be looked up in time")
            return NOT_NOW
