"""A /claude command its process left unfinished is completed by another, once: never posted twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import aiohttp
import pytest

from bot.engine import Engine
from bot.model import Inbound
from bot.slack.commands import METADATA_TYPE, CommandIntake
from bot.store import SlashCommand, Store, open_store
from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client


class Inbox:
    """The engine, as far as commands go: what was submitted."""

    def __init__(self) -> None:
        self.submitted: list[Inbound] = []

    async def submit(self, inbound: Inbound) -> None:
        self.submitted.append(inbound)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(f"sqlite+aiosqlite:///{tmp_path}/bot.db", lease_seconds=3)
    try:
        yield s
    finally:
        await s.close()


def command(slack: SlackEmulator, trigger_id: str) -> SlashCommand:
    return SlashCommand(
        trigger_id, slack.team_id, slack.general, slack.ana, "what is 2 + 2?", None, time.time()
    )


def asked(slack: SlackEmulator) -> list[str]:
    return [m.ts for m in slack.channel_view(slack.general) if m.is_bot and "asked" in m.text]


@pytest.mark.parametrize("posted_before_dying", [True, False])
async def test_a_command_left_by_a_dead_process_is_posted_and_queued_once(
    slack: SlackEmulator, store: Store, posted_before_dying: bool
) -> None:
    dead = command(slack, "1.2.dead")
    await store.commands.record(dead, "a-process-that-died")  # it never heartbeats again
    if posted_before_dying:
        # It posted the question, and died before it could record so.
        await web_client(slack).chat_postMessage(
            channel=slack.general,
            text=f"<@{slack.ana}> asked: what is 2 + 2?",
            metadata={"event_type": METADATA_TYPE, "event_payload": {"trigger_id": dead.trigger_id}},
        )
    inbox = Inbox()
    async with aiohttp.ClientSession() as session:
        survivor = CommandIntake(
            cast(Engine, inbox),
            store,
            web_client(slack),
            session,
            team_id=slack.team_id,
            bot_user_id=slack.bot_user_id,
            bot_name="claude",
            owner="survivor",
            interval=1.0,
        )
        await survivor.recover()
        await survivor.recover()  # nothing left to do
    [ts] = asked(slack)
    assert [(i.ts, i.text, i.user_id) for i in inbox.submitted] == [(ts, "what is 2 + 2?", slack.ana)]
    assert await store.commands.orphaned("survivor") == []
    looked = [c for c in slack.calls if c.method == "conversations.history"]
    assert len(looked) == 1 and looked[0].params.get("include_all_metadata") in ("1", "true", True)


async def test_a_command_whose_process_is_alive_is_left_to_it(slack: SlackEmulator, store: Store) -> None:
    await store.heartbeat("busy-process", recent_seconds=60)
    await store.commands.record(command(slack, "1.2.busy"), "busy-process")
    assert await store.commands.orphaned("survivor") == []
