"""A replica cut off from the database longer than its lease must not write as if it still owned the turn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.model import Inbound, InboundKind, ThreadKey, Usage
from bot.store import Store, TurnFenced, TurnStart, open_store

KEY = ThreadKey("T1", "C1", "100.000001")
USER = {"role": "user", "content": [{"type": "text", "text": "question"}]}
ANSWER = {"role": "assistant", "content": [{"type": "text", "text": "the cut-off replica's answer"}]}


@pytest.fixture
async def short_leases(database_url: str) -> AsyncIterator[Store]:
    store = await open_store(database_url, lease_seconds=0.2)
    try:
        yield store
    finally:
        await store.close()


async def running_turn(store: Store, owner: str) -> TurnStart:
    await store.enqueue(Inbound(KEY, "100.000001", "U1", "question", InboundKind.MENTION))
    start = await store.start_turn(KEY, owner)
    assert start is not None and start.turn_id is not None
    return start


async def taken_over(store: Store, owner: str) -> TurnStart:
    """`owner` takes the thread once the cut-off replica's lease has run out (nobody renewed it)."""
    deadline = time.time() + 5
    while (start := await store.start_turn(KEY, owner)) is None:
        assert time.time() < deadline, "the lease never expired"
        await asyncio.sleep(0.05)
    return start


async def finish(store: Store, turn_id: str, owner: str) -> bool:
    return await store.finish_turn(
        turn_id, KEY, owner=owner, outcome="answered", user_id="U1", model="m", turn_usage=Usage(requests=1)
    )


async def test_the_turn_of_a_replica_that_lost_its_thread_takes_no_more_writes(short_leases: Store) -> None:
    store = short_leases
    old = await running_turn(store, "cut-off")
    assert old.turn_id is not None
    await store.save_turn(KEY, 0, old.turn_id, [USER], owner="cut-off")
    new = await taken_over(store, "survivor")  # nothing was shown: the survivor runs it again
    assert new.turn_id is not None and [t.posted_output for t in new.interrupted] == [False]
    await store.save_turn(KEY, 0, new.turn_id, [USER, ANSWER], owner="survivor")

    # The cut-off replica is back: its heartbeat learns the lease is gone, and every write is refused.
    assert await store.renew_leases("cut-off", [KEY]) == set()
    with pytest.raises(TurnFenced):
        await store.save_turn(KEY, 0, old.turn_id, [USER, ANSWER], owner="cut-off")
    with pytest.raises(TurnFenced):
        await store.mark_posted(old.turn_id, "cut-off")
    with pytest.raises(TurnFenced):
        await finish(store, old.turn_id, "cut-off")

    # The survivor's turn is as it left it, and finishes as usual.
    assert await store.renew_leases("survivor", [KEY]) == {KEY}
    assert await finish(store, new.turn_id, "survivor") is False
    await store.enqueue(Inbound(KEY, "100.000002", "U1", "next", InboundKind.MESSAGE))
    after = await store.start_turn(KEY, "survivor")
    assert after is not None and list(after.history) == [USER, ANSWER]


async def test_a_turn_is_fenced_as_soon_as_its_lease_is_taken(short_leases: Store) -> None:
    # The survivor took the lease and is still asking Slack what the old turn showed (the turn is
    # "running" under its old owner until resolved): the old owner must not write in that window.
    store = short_leases
    old = await running_turn(store, "cut-off")
    assert old.turn_id is not None
    await store.mark_posted(old.turn_id, "cut-off")
    unsure = await taken_over(store, "survivor")
    assert unsure.turn_id is None and [u.turn_id for u in unsure.unsure] == [old.turn_id]
    with pytest.raises(TurnFenced):
        await store.save_turn(KEY, 0, old.turn_id, [USER, ANSWER], owner="cut-off")
    with pytest.raises(TurnFenced):
        await finish(store, old.turn_id, "cut-off")


async def test_a_fenced_turn_still_has_its_tokens_recorded(short_leases: Store) -> None:
    store = short_leases
    old = await running_turn(store, "cut-off")
    assert old.turn_id is not None
    await taken_over(store, "survivor")
    await store.record_usage(old.turn_id, KEY, user_id="U1", model="m", turn_usage=Usage(10, 5, requests=1))
    assert (await store.usage_since("U1", 0)).usage == Usage(10, 5, requests=1)


async def test_a_turn_whose_lease_ran_out_may_not_post_even_before_anyone_took_it(
    short_leases: Store,
) -> None:
    """The soak's stalled replica: its lease expired, nobody had taken the thread yet, and it marked
    the turn posted and posted, while another replica was taking over and found nothing shown."""
    store = short_leases
    old = await running_turn(store, "stalled")
    assert old.turn_id is not None
    await asyncio.sleep(0.3)  # longer than the lease, no heartbeat
    with pytest.raises(TurnFenced):
        await store.mark_posted(old.turn_id, "stalled")


async def test_marking_a_turn_posted_gives_its_post_a_full_lease(database_url: str) -> None:
    store = await open_store(database_url, lease_seconds=1.0)
    try:
        old = await running_turn(store, "poster")
        assert old.turn_id is not None
        await asyncio.sleep(0.6)
        await store.mark_posted(old.turn_id, "poster")
        await asyncio.sleep(0.6)  # past the lease the turn started with, within the one the mark gave
        assert await store.start_turn(KEY, "other") is None
    finally:
        await store.close()
