"""A replica cut off from the database longer than its lease stops its turn once another took the thread."""

from __future__ import annotations

import asyncio
import signal
import time

from bot.model import ThreadKey
from bot.store import open_store
from bot.store.schema import threads
from emulators.anthropic import AnthropicEmulator, Delay, Say, Script
from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, bot_text, wait_for_text


async def test_a_replica_whose_thread_was_taken_over_stops_streaming_and_posts_nothing_more(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("Part one."), Delay(4), Say("Part two.")]])
    bot = await start_bot(database_url=pg_url, lease_seconds="3", stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "a long question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")

    # Another replica takes the thread over, as one would after this replica's lease ran out while it
    # was cut off from the database: the lease is expired and taken by the product's own store.
    key = ThreadKey(slack.team_id, slack.general, root)
    other = await open_store(pg_url, lease_seconds=60)  # it holds the thread for the rest of the test
    try:
        deadline = time.monotonic() + 10
        while True:
            await other.db.write(
                lambda conn: conn.execute(
                    threads.update().where(threads.c.key == str(key)).values(lease_expires=0)
                )
            )
            taken = await other.start_turn(key, "another-replica")
            if taken is not None:
                break
            assert time.monotonic() < deadline
        assert taken.unsure  # it will ask Slack what the old turn showed, and close it

        # The old owner's heartbeat finds the lease gone: it hangs up on Claude and writes no more.
        request = claude.requests[-1]
        await slack.wait_for(lambda: request.done_at is not None, timeout=10, what="the request ended")
        assert request.response is None  # the bot stopped reading before "Part two." was generated
        await bot.wait_for_line(r"stopping turn \w+ in .*: another replica took its thread over")
        await bot.wait_for_line(r"lost its thread to another replica")
        text = bot_text(slack, "general", root)
        assert "Part one." in text and "Part two." not in text
        assert "went wrong" not in text and "restarting" not in text
        # Nothing closed the stream: that is the new owner's to do, as it knows the turn's fate.
        assert [m.stream_state for m in bot_messages(slack, "general", root)] == ["streaming"]
        assert not any("Traceback" in line for line in bot.lines)
    finally:
        await other.close()


async def test_a_replica_frozen_past_its_lease_posts_nothing_when_it_wakes_up(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """The lease race the soak suite found: a replica stalled longer than its lease (an overloaded host,
    a long GC pause) wakes up with the rest of its answer already received and must not post it, as
    another replica is answering the thread by then. Its heartbeat would notice within a third of a
    lease; its next post must not wait for that."""
    claude.model = Script([[Say("Part one."), Delay(1.5), Say(" Part two, from the frozen replica.")]])
    bot = await start_bot(database_url=pg_url, lease_seconds="3", stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "a long question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGSTOP)  # frozen: no heartbeat, no posts
    key = ThreadKey(slack.team_id, slack.general, root)
    other = await open_store(pg_url, lease_seconds=60)
    try:
        deadline = time.monotonic() + 15
        while (taken := await other.start_turn(key, "another-replica")) is None:
            assert time.monotonic() < deadline, "the frozen replica's lease never expired"
            await asyncio.sleep(0.2)
        assert taken.unsure
        request = claude.requests[-1]
        await slack.wait_for(lambda: request.done_at is not None, timeout=10, what="the answer was sent")
        bot.process.send_signal(signal.SIGCONT)
        await bot.wait_for_line(r"lost its thread to another replica")
        await asyncio.sleep(0.5)  # anything it would still post would be in by now
        text = bot_text(slack, "general", root)
        assert "Part one." in text and "Part two" not in text
    finally:
        if bot.process.returncode is None:
            bot.process.send_signal(signal.SIGCONT)
        await other.close()


async def test_a_replica_whose_stream_the_new_owner_closed_does_not_go_on_in_a_plain_message(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """Found by the soak suite: the new owner of a thread closes the stream the old owner left open
    (marking it interrupted); the old owner, not yet told by its heartbeat, found its stream closed and
    went on in a plain message with the rest of its answer, beside the new owner's answer."""
    claude.model = Script([[Say("Part one."), Delay(3), Say(" Part two, from the old owner.")]])
    # A long lease: the heartbeat (every 10 s) says nothing during the test; only the store can.
    bot = await start_bot(database_url=pg_url, lease_seconds="30", stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "a long question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    key = ThreadKey(slack.team_id, slack.general, root)
    other = await open_store(pg_url, lease_seconds=60)
    try:
        await other.db.write(
            lambda conn: conn.execute(
                threads.update().where(threads.c.key == str(key)).values(lease_expires=0)
            )
        )
        taken = await other.start_turn(key, "another-replica")
        assert taken is not None and taken.unsure
        [stream] = bot_messages(slack, "general", root)
        closed = await web_client(slack).chat_stopStream(
            channel=slack.general,
            ts=stream.ts,
            chunks=[{"type": "markdown_text", "text": "\n\n_(interrupted)_"}],
        )
        assert closed["ok"]
        await bot.wait_for_line(r"lost its thread to another replica", timeout=15)
        await asyncio.sleep(0.5)
        assert "Part two" not in bot_text(slack, "general", root)
        assert len(bot_messages(slack, "general", root)) == 1
    finally:
        await other.close()
