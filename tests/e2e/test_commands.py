"""`/claude <question>`: Slack never sends a command again, so one acknowledged is one answered."""

from __future__ import annotations

from emulators.anthropic import AnthropicEmulator, ByText, Say
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_text, wait_for_text


def questions(slack: SlackEmulator, text: str) -> list[str]:
    """The bot's messages in #general that post a person's /claude question."""
    return [m.ts for m in slack.channel_view("general") if m.is_bot and "asked" in m.text and text in m.text]


async def test_a_command_acknowledged_just_before_the_bot_died_is_answered_after_the_restart(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"2 + 2": [Say("It is 4.")]})
    bot = await start_bot(lease_seconds="3")
    # Slack holds the bot's post of the question back (HTTP 429, Retry-After 30 s): the command is
    # acknowledged, and the bot dies while it waits to post it.
    slack.rate_limit_next("chat.postMessage", retry_after=30)
    assert await slack.run_slash_command("ana", "general", "/claude", "what is 2 + 2?") == {}
    await slack.wait_for(lambda: slack.rate_limited_calls == 1, what="the post held back")
    await bot.kill()

    await start_bot(lease_seconds="3")
    await slack.wait_for(lambda: questions(slack, "what is 2 + 2?"), timeout=20, what="the question posted")
    [root] = questions(slack, "what is 2 + 2?")
    text = await wait_for_text(slack, "general", root, "It is 4.")
    assert text.count("It is 4.") == 1
    # Slack delivered the command once: the bot had stored it before acknowledging it.
    assert [e.type for e in slack.envelopes].count("slash_commands") == 1
    assert len(questions(slack, "what is 2 + 2?")) == 1 and "again" not in bot_text(slack, "general", root)
