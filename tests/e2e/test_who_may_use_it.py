"""Who may use the bot (issue 13): a guest, someone from another organisation over Slack Connect,
someone outside the allow-list or its user groups, a channel outside the list. Each is told why, in
one line only they see, and nothing reaches Anthropic or the inbox (only the event ids, so a
redelivery is not answered twice)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulators.anthropic import AnthropicEmulator, Say, Script
from emulators.slack import SlackEmulator, ViewMessage
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, sent, wait_finished

ADMIN = "U0999ADMIN"


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(rows, db, sql)


def told(slack: SlackEmulator, user: str, *, thread_ts: str | None = None) -> list[ViewMessage]:
    """The bot's lines only `user` sees: in the channel, or in a thread."""
    view = (
        slack.thread_view("general", thread_ts, viewer=user)
        if thread_ts
        else slack.channel_view("general", viewer=user)
    )
    return [m for m in view if m.ephemeral_to == user]


def guest(slack: SlackEmulator) -> tuple[str, dict[str, str]]:
    gail = slack.add_user("gail", guest="multi")
    slack.add_to_channel(gail, "general")
    return gail, {}


def partner(slack: SlackEmulator) -> tuple[str, dict[str, str]]:
    return slack.add_user("pat", team_id="T0PARTNER"), {}


def outside_users(slack: SlackEmulator) -> tuple[str, dict[str, str]]:
    return slack.ben, {"allowed_users": slack.ana}


def outside_groups(slack: SlackEmulator) -> tuple[str, dict[str, str]]:
    return slack.ben, {"allowed_usergroups": slack.add_usergroup("data-team", ["ana", "chloe"])}


def outside_channels(slack: SlackEmulator) -> tuple[str, dict[str, str]]:
    return slack.ana, {"allowed_channels": slack.add_channel("data")}


@pytest.mark.parametrize(
    ("who", "line"),
    [
        (guest, "Guest accounts can't use this bot. Ask <@U0999ADMIN> if you need access."),
        (partner, "I can't answer people from other organisations here. Ask <@U0999ADMIN>"),
        (
            outside_users,
            "You're not on the list of people who may use this bot. Ask <@U0999ADMIN> for access.",
        ),
        (
            outside_groups,
            "You're not on the list of people who may use this bot. Ask <@U0999ADMIN> for access.",
        ),
        (outside_channels, "I'm not turned on in this channel. Ask <@U0999ADMIN> to add it"),
    ],
    ids=["guest", "slack_connect", "allow_list", "user_groups", "channel"],
)
async def test_someone_turned_away_is_told_why_and_nothing_reaches_anthropic(
    slack: SlackEmulator,
    claude: AnthropicEmulator,
    start_bot: StartBot,
    tmp_path: Path,
    who: Callable[[SlackEmulator], tuple[str, dict[str, str]]],
    line: str,
) -> None:
    claude.model = Script([[Say("Never sent.")]])
    person, settings = who(slack)
    await start_bot(admins=ADMIN, **settings)
    root = await slack.post_message(person, "general", "what is 6 * 7?", mention_bot=True)
    # The question starts no thread, and a thread with no replies shows no ephemeral: the line is
    # beside the question, in the channel, for that person alone.
    [said] = await slack.wait_for(lambda: told(slack, person), what="the line that says why")
    assert line in said.text
    assert not [m for m in slack.channel_view("general", viewer=slack.dev) if m.ephemeral_to]
    db = tmp_path / "bot.db"
    # Both events of the mention were acknowledged with only their ids kept.
    await slack.wait_for(lambda: all(e.acked for e in slack.events() if e.payload["event"].get("ts") == root))
    assert await query(db, "SELECT count(*) FROM inbox") == [(0,)]
    mention_events = {e.event_id for e in slack.events() if e.payload["event"].get("ts") == root}
    assert len(mention_events) == 2
    assert {r[0] for r in await query(db, "SELECT event_id FROM processed_events")} == mention_events
    assert [r[:2] for r in await query(db, "SELECT actor, action FROM audit")] == [(person, "denied")]
    assert claude.requests == [] and bot_messages(slack, "general", root) == []
    assert slack.status_history("general", root) == []  # not even "is working on it"


async def test_a_person_turned_away_in_a_busy_thread_is_told_once(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = Script([[Say("Forty-two.")], [Say("Still forty-two.")]])
    await start_bot(allowed_users=slack.ana, admins=ADMIN)
    root = await slack.post_message("ana", "general", "what is 6 * 7?", mention_bot=True)
    await wait_finished(slack, "general", root)
    for text in ("and times two?", "hello?", "anyone?"):
        await slack.post_message("ben", "general", text, thread_ts=root)
    await slack.post_message("ben", "general", "answer me", thread_ts=root, mention_bot=True)
    await slack.post_message("ana", "general", "once more?", thread_ts=root)
    await wait_finished(slack, "general", root, count=2)
    lines = told(slack, slack.ben, thread_ts=root)
    assert len(lines) == 1 and "not on the list" in lines[0].text
    assert told(slack, slack.ana, thread_ts=root) == []
    # Ben's messages were never sent to Claude, in their turn or as the thread's history.
    assert len(claude.requests) == 2
    assert not any(w in str(sent(r)) for r in claude.requests for w in ("times two", "anyone?", "answer me"))
    db = tmp_path / "bot.db"
    assert [r[0] for r in await query(db, "SELECT user_id FROM inbox ORDER BY ts")] == [slack.ana] * 2
    assert await query(db, "SELECT actor, action FROM audit WHERE actor = 'U0234BCDE'") == [
        (slack.ben, "denied")
    ]


async def test_a_guests_messages_never_reach_claude_as_thread_history(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("Here is the summary.")]])
    await start_bot()
    gail = slack.add_user("gail", guest="single")
    slack.add_to_channel(gail, "general")
    root = await slack.post_message(gail, "general", "the secret plan is 42")
    await slack.post_message("ben", "general", "the budget is 7", thread_ts=root)
    await slack.post_message("ana", "general", "summarise this thread", thread_ts=root, mention_bot=True)
    await wait_finished(slack, "general", root)
    [request] = claude.requests
    assert "the budget is 7" in str(sent(request))
    assert "secret plan" not in str(sent(request))
    # The guest wrote no question: nothing is said to her.
    assert told(slack, gail, thread_ts=root) == [] and told(slack, gail) == []
