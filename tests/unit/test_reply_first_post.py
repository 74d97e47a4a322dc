"""A reply counts as posted only once the store has marked its turn so, and posts nothing if it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.model import TextDelta, ThreadKey
from bot.slack.rate_limits import RateBudget
from bot.slack.reply import ThreadReply
from bot.store import TurnFenced
from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


async def answer(thread_reply: ThreadReply) -> None:
    await thread_reply.begin()
    await thread_reply.handle([TextDelta("Part of an answer.")])
    await thread_reply.finish(closing=None, retry=False)


def reply(slack: SlackEmulator, root: str, marks: list[str], *, refuse: bool) -> ThreadReply:
    async def first_post() -> None:
        if refuse:
            raise TurnFenced("t1")  # another replica owns the turn now
        marks.append("posted")

    return ThreadReply(
        web_client(slack),
        RateBudget(enabled=False),
        ThreadKey(slack.team_id, slack.general, root),
        recipient_user_id=slack.ana,
        update_seconds=0.05,
        on_first_post=first_post,
        turn_id="t1",
    )


async def test_a_turn_the_store_refuses_to_mark_posts_nothing_and_counts_as_unposted(
    slack: SlackEmulator,
) -> None:
    root = await slack.post_message(slack.ana, slack.general, "question", mention_bot=True)
    refused = reply(slack, root, [], refuse=True)
    await answer(refused)
    assert not refused.posted
    assert [m for m in slack.thread_view(slack.general, root) if m.is_bot] == []


async def test_a_marked_turn_posts_and_counts_as_posted(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "question", mention_bot=True)
    marks: list[str] = []
    accepted = reply(slack, root, marks, refuse=False)
    await answer(accepted)
    assert accepted.posted and marks == ["posted"]
    assert "Part of an answer." in "".join(m.text for m in slack.thread_view(slack.general, root) if m.is_bot)
