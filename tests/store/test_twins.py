"""The two events of a mention (app_mention and message): one row, files from either, in any order."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from bot.model import Inbound, InboundFile
from bot.store import Store, TurnStart, open_store
from tests.store.helpers import claim, finish, msg

CSV = InboundFile("F1", "sales.csv", "text/csv", 3, "http://x/sales.csv")


def sparse_mention(ts: str = "100.000001") -> Inbound:
    """The app_mention of a message with a file, delivered without `files` (openclaw#62927)."""
    return replace(msg(ts, event_id="EvMention"), files=(), awaits_twin=True)


def rich_twin(ts: str = "100.000001") -> Inbound:
    return replace(msg(ts, event_id="EvMessage"), files=(CSV,))


async def settle(store: Store, start: TurnStart, wait: float) -> dict[int, tuple[InboundFile, ...]]:
    """What the turn does before taking its files in (bot/engine/turn.py)."""
    awaited = [(i.id, i.ts, i.files) for i in start.items if i.awaiting_twin]
    return await store.twins.settle(start.turn_id or "", start.thread.key.channel_id, awaited, wait)


async def test_the_twin_brings_its_files_to_the_turn_that_waits_for_it(store: Store) -> None:
    await store.enqueue(sparse_mention())
    start = await claim(store, "a")  # the turn started before the twin came
    assert start.items[0].awaiting_twin and start.items[0].files == ()
    settled = asyncio.create_task(settle(store, start, 10.0))
    await asyncio.sleep(0.05)
    assert not settled.done()  # it waits for the twin...
    twin = await store.enqueue(rich_twin())
    assert not twin.new  # ...which is the same message
    assert await asyncio.wait_for(settled, 5) == {start.items[0].id: (CSV,)}


async def test_twins_in_one_batch_make_one_row_with_the_files(store: Store) -> None:
    first, second = await asyncio.gather(store.enqueue(sparse_mention()), store.enqueue(rich_twin()))
    assert (first.new, second.new) == (True, False)
    start = await claim(store, "a")
    assert start.items[0].files == (CSV,) and not start.items[0].awaiting_twin


async def test_a_rich_message_first_needs_nothing_from_its_app_mention(store: Store) -> None:
    await store.enqueue(rich_twin())
    assert not (await store.enqueue(sparse_mention())).new
    start = await claim(store, "a")
    assert start.items[0].files == (CSV,) and not start.items[0].awaiting_twin


async def test_a_twin_that_never_comes_is_waited_for_a_moment_only(store: Store) -> None:
    await store.enqueue(sparse_mention())
    start = await claim(store, "a")
    began = time.monotonic()
    assert await settle(store, start, 0.3) == {start.items[0].id: ()}
    assert time.monotonic() - began < 5


async def test_files_that_come_after_their_turn_began_go_to_the_next_turn(store: Store) -> None:
    await store.enqueue(sparse_mention())
    start = await claim(store, "a")
    await settle(store, start, 0.0)  # the turn took its files in: none
    late = await store.enqueue(rich_twin())
    assert late.new  # a turn must answer them
    assert await finish(store, start, "a")  # more is waiting: the lease is kept
    following = await claim(store, "a")
    (item,) = following.items
    assert item.files == (CSV,) and "previous message" in item.text and item.ts > "100.000001"
    assert not (await store.enqueue(rich_twin())).new  # a redelivery of the twin adds nothing more


async def test_a_twin_stored_by_another_replica_reaches_the_waiting_turn(database_url: str) -> None:
    one = await open_store(database_url, lease_seconds=30)
    two = await open_store(database_url, lease_seconds=30)
    try:
        await one.enqueue(sparse_mention())
        start = await claim(one, "a")
        settled = asyncio.create_task(settle(one, start, 10.0))
        await asyncio.sleep(0.05)
        assert not (await two.enqueue(rich_twin())).new
        began = time.monotonic()
        assert await asyncio.wait_for(settled, 5) == {start.items[0].id: (CSV,)}
        assert time.monotonic() - began < 5  # seen in the database, not at the end of the wait
    finally:
        await one.close()
        await two.close()
