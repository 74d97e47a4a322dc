"""What the bot spends (issue 13): every turn priced from the price table, budgets checked before every
request to Anthropic, and a day's budget that renews the next day."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from emulators.anthropic import AnthropicEmulator, PauseTurn, Python, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_text, got, poll_until, wait_finished

# Claude Sonnet 5 (the default model), USD per million tokens, from its overview page on
# platform.claude.com: input 2, output 10, 5-minute cache writes 2.50, 1-hour writes 4, reads 0.20.
# Per million tokens, so rate x tokens is micro-dollars.
SONNET_5 = {"input": 2.0, "output": 10.0, "write_5m": 2.5, "write_1h": 4.0, "read": 0.2}


def by_hand(usage: dict[str, Any]) -> int:
    written_1h = usage["cache_creation"]["ephemeral_1h_input_tokens"]
    written_5m = usage["cache_creation_input_tokens"] - written_1h
    return round(
        float(
            SONNET_5["input"] * usage["input_tokens"]
            + SONNET_5["output"] * usage["output_tokens"]
            + SONNET_5["read"] * usage["cache_read_input_tokens"]
            + SONNET_5["write_5m"] * written_5m
            + SONNET_5["write_1h"] * written_1h
        )
    )


def usage_rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM usage ORDER BY id").fetchall()


async def wait_rows(db: Path, count: int) -> list[sqlite3.Row]:
    async def there() -> bool:
        return len(await asyncio.to_thread(usage_rows, db)) >= count

    await poll_until(there, timeout=20)
    return await asyncio.to_thread(usage_rows, db)


async def test_a_turn_costs_what_the_price_table_says(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = Script(
        [
            [
                Say("Let me compute. " + "Working it out. " * 50),
                Python("print(6 * 7)"),
                PauseTurn(),
                Say("It is 42."),
            ]
        ]
    )
    await start_bot(container_free_hours="0")
    root = await slack.post_message(
        "ana", "general", "what is six times seven? " + "context " * 300, mention_bot=True
    )
    await wait_finished(slack, "general", root)
    (row,) = await wait_rows(tmp_path / "bot.db", 1)
    tokens = sum(by_hand(got(r)["usage"]) for r in claude.requests)
    # Code ran, so the turn pays sandbox time: the 5-minute minimum at $0.05 an hour (no free hours
    # left here) is 300 x 50,000 / 3,600 micro-dollars.
    sandbox = round(300 * 50_000 / 3600)
    assert len(claude.requests) == 2  # the pause was continued
    assert row["container_seconds"] == 300
    assert row["cost_micros"] == tokens + sandbox
    assert row["cache_write_1h_tokens"] > 0 and row["outcome"] == "answered"


async def test_a_daily_budget_stops_the_turn_refuses_the_next_and_renews(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    """The first response fits the budget; the continuation it asks for would pass it, so it is never
    sent: the turn ends with what it has and says why. The next message that day is refused without
    a request. Once the day's spending is in the past (the stored turns moved back two days, which is
    what a new day means for the budget), the next message is answered."""
    long_text = "A first part of the answer. " * 150  # about 1,000 output tokens
    claude.model = Script(
        [[Say(long_text), PauseTurn(), Say("Never sent.")], [Say("A new day, a new answer.")]]
    )
    await start_bot(budget_user_daily_usd="0.025", admins="U0999ADMIN")
    root = await slack.post_message("ana", "general", "tell me a lot", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "A first part of the answer." in text
    assert "I stopped here: your daily budget for Claude ($0.03) is used up" in text
    assert "Ask <@U0999ADMIN>" in text and "Never sent." not in text
    assert len(claude.requests) == 1
    db = tmp_path / "bot.db"
    await wait_rows(db, 1)

    second = await slack.post_message("ana", "general", "and one more question", mention_bot=True)
    refused = await wait_finished(slack, "general", second)
    assert "I didn't start on this: your daily budget for Claude ($0.03) is used up" in refused
    assert len(claude.requests) == 1  # nothing was asked of Claude

    def yesterday() -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE usage SET created_at = created_at - 2 * 86400")

    await asyncio.to_thread(yesterday)
    third = await slack.post_message("ana", "general", "good morning", mention_bot=True)
    assert "A new day, a new answer." in await wait_finished(slack, "general", third)
    assert len(claude.requests) == 2
    assert "used up" not in bot_text(slack, "general", third)


async def test_a_low_budget_is_mentioned_once(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("One.")], [Say("Two.")]])
    await start_bot(budget_user_daily_usd="0.02", budget_warn_fraction="0.95")
    first = await slack.post_message("ana", "general", "one", mention_bot=True)
    text = await wait_finished(slack, "general", first)
    assert "Your daily budget has $0.0" in text and "left (" in text
    second = await slack.post_message("ana", "general", "two", mention_bot=True)
    assert "left (" not in await wait_finished(slack, "general", second)
