"""The thread buttons act only on their own thread, New session only for the people in it (issue 13),
and every press that acts, or is refused, is audited."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from emulators.anthropic import AnthropicEmulator, ByText, Python, Say
from emulators.slack import SlackEmulator, ViewMessage
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, bot_text, container_of, got, sent, wait_finished, wait_for_text


def audit_rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, action, thread_key, detail FROM audit ORDER BY id").fetchall()


def told(slack: SlackEmulator, user: str, root: str) -> list[ViewMessage]:
    return [m for m in slack.thread_view("general", root, viewer=user) if m.ephemeral_to == user]


def answer_ts(slack: SlackEmulator, root: str) -> str:
    return next(m.ts for m in bot_messages(slack, "general", root) if "new_session" in str(m.blocks))


async def test_new_session_pressed_by_someone_outside_the_thread_changes_nothing(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = ByText(
        {
            "remember": [Python("z = 41"), Say("Remembered.")],
            "what is z": [Python("print(z + 1)"), Say("z+1 is 42.")],
        }
    )
    await start_bot(admins="U0999ADMIN")
    root = await slack.post_message("ana", "general", "remember z", mention_bot=True)
    await wait_finished(slack, "general", root)
    container = got(claude.requests[0])["container"]["id"]

    await slack.press_button("chloe", "general", answer_ts(slack, root), "new_session")
    [refusal] = await slack.wait_for(lambda: told(slack, slack.chloe, root), what="the refusal")
    assert "Only the people taking part in this thread (or an admin)" in refusal.text
    assert "started a new session" not in bot_text(slack, "general", root)

    await slack.post_message("ana", "general", "what is z now?", thread_ts=root)
    await wait_for_text(slack, "general", root, "z+1 is 42.")
    follow_up = sent(claude.requests[-1])
    assert container_of(follow_up) == container  # the same sandbox, its variables intact
    assert "remember z" in str(follow_up["messages"])  # and the conversation
    rows = await asyncio.to_thread(audit_rows, tmp_path / "bot.db")
    assert [(r[0], r[1]) for r in rows] == [(slack.chloe, "button_refused")]
    assert json.loads(rows[0][3]) == {"button": "new_session", "why": "not in the thread"}


async def test_a_button_whose_value_names_another_thread_changes_nothing_there(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = ByText(
        {
            "ana's question": [Say("Ana's answer.")],
            "ben's question": [Python("y = 7"), Say("Ben's answer.")],
            "and y?": [Python("print(y)"), Say("y is still 7.")],
        }
    )
    await start_bot()
    ana_root = await slack.post_message("ana", "general", "ana's question", mention_bot=True)
    ben_root = await slack.post_message("ben", "general", "ben's question", mention_bot=True)
    await wait_finished(slack, "general", ana_root)
    await wait_finished(slack, "general", ben_root)
    ben_thread = f"{slack.team_id}:{slack.general}:{ben_root}"

    # Ben presses New session on the answer in Ana's thread, with a value made up to name his own.
    await slack.press_button("ben", "general", answer_ts(slack, ana_root), "new_session", value=ben_thread)
    [refusal] = await slack.wait_for(lambda: told(slack, slack.ben, ana_root), what="the refusal")
    assert "belongs to another thread" in refusal.text
    for root in (ana_root, ben_root):
        assert "started a new session" not in bot_text(slack, "general", root)

    await slack.post_message("ben", "general", "and y?", thread_ts=ben_root)
    await wait_for_text(slack, "general", ben_root, "y is still 7.")
    assert "ben's question" in str(sent(claude.requests[-1])["messages"])
    rows = await asyncio.to_thread(audit_rows, tmp_path / "bot.db")
    assert [(r[0], r[1], r[2]) for r in rows] == [(slack.ben, "button_refused", None)]
    assert json.loads(rows[0][3]) == {"button": "new_session", "why": "another thread", "value": ben_thread}


async def test_stop_new_session_and_retry_are_audited(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = ByText({"hello": [Say("Hi.")]})
    await start_bot()
    root = await slack.post_message("ana", "general", "hello", mention_bot=True)
    await wait_finished(slack, "general", root)
    # Ben took part (he wrote in the thread): he may start it over.
    await slack.post_message("ben", "general", "hello again", thread_ts=root)
    await wait_finished(slack, "general", root, count=2)
    await slack.press_button("ben", "general", answer_ts(slack, root), "new_session")
    await wait_for_text(slack, "general", root, "started a new session")
    rows = await asyncio.to_thread(audit_rows, tmp_path / "bot.db")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (slack.ben, "reset", f"{slack.team_id}:{slack.general}:{root}")
    ]
