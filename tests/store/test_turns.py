"""Turns and leases: ordered claims, one owner at a time, nothing stranded, crash recovery, stops."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.store import Store, StoredFile, open_store
from tests.store.helpers import KEY, OTHER, claim, finish, msg


async def test_claims_in_thread_order_and_one_owner_at_a_time(store: Store) -> None:
    for ts, text in [("100.000003", "third"), ("100.000001", "first"), ("100.000002", "second")]:
        await store.enqueue(msg(ts, text))
    start = await claim(store, "a")
    assert [i.text for i in start.items] == ["first", "second", "third"]
    assert start.items[0].files[0].name == "a.csv"
    assert await store.start_turn(KEY, "b") is None  # leased by a
    busy = await store.enqueue(msg("100.000004", "fourth"))
    assert busy.new and busy.thread_busy
    # The holder finds the message that arrived meanwhile and keeps the lease for it.
    assert await finish(store, start, "a") is True
    assert await store.start_turn(KEY, "b") is None
    nxt = await claim(store, "a")
    assert [i.text for i in nxt.items] == ["fourth"]
    assert await finish(store, nxt, "a") is False  # nothing waiting: the lease is given up
    assert await store.start_turn(KEY, "b") is not None


async def test_a_message_that_arrives_while_another_replica_holds_the_thread_is_not_stranded(
    store: Store,
) -> None:
    await store.enqueue(msg("100.000001"))
    start = await claim(store, "a")
    # Replica b receives a message, stores it, and fails to take the lease: it relies on a.
    await store.enqueue(msg("100.000002"))
    assert await store.start_turn(KEY, "b") is None
    assert await finish(store, start, "a") is True
    taken = await claim(store, "a")
    assert [i.ts for i in taken.items] == ["100.000002"]


# SQLite runs one write transaction at a time: nothing can commit in between there.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_message_committed_while_a_turn_starts_waits_for_the_next_turn(database_url: str) -> None:
    """Replica b commits a message between replica a reading the thread's waiting messages and
    claiming them (on PostgreSQL each statement sees what is committed when it starts): the message
    is not part of a's turn, so it must stay waiting, not be claimed by a turn that never saw it."""
    from sqlalchemy import event
    from sqlalchemy.util import await_only

    a = await open_store(database_url, lease_seconds=30)
    b = await open_store(database_url, lease_seconds=30)
    try:
        await a.enqueue(msg("100.000001", "first"))
        assert a.db._async is not None
        sync_engine = a.db._async.sync_engine
        committed: list[bool] = []

        def between(conn: object, cursor: object, statement: str, *_: object) -> None:
            if not committed and statement.lstrip().startswith("SELECT") and "FROM inbox" in statement:
                committed.append((await_only(b.enqueue(msg("100.000002", "late")))).new)

        event.listen(sync_engine, "after_cursor_execute", between)
        try:
            start = await claim(a, "a")
        finally:
            event.remove(sync_engine, "after_cursor_execute", between)
        assert committed == [True]
        assert [i.text for i in start.items] == ["first"]
        assert await finish(a, start, "a") is True  # the late message keeps the lease for a next turn
        assert [i.text for i in (await claim(a, "a")).items] == ["late"]
    finally:
        await a.close()
        await b.close()


async def test_turn_start_brings_history_files_and_context_flag(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    first = await claim(store, "a")
    assert not first.thread.context_loaded and first.history == () and first.files == ()
    assert first.turn_id is not None
    user = {"role": "user", "content": [{"type": "text", "text": "x = 41"}]}
    assistant = {"role": "assistant", "content": [{"type": "text", "text": "done"}]}
    await store.save_turn(
        KEY,
        0,
        first.turn_id,
        [user, assistant],
        container_id="container_1",
        container_expires_at="2026-11-22T00:00:00Z",
        owner="a",
    )
    f = StoredFile("upload", "F1", "F1", "file_1", "a.csv", "text/csv", 3, "abc", time.time())
    await store.record_file(KEY, f)
    await store.record_file(KEY, f)
    await finish(store, first, "a")
    await store.enqueue(msg("100.000002"))
    second = await claim(store, "a")
    assert second.thread.context_loaded and second.thread.container_id == "container_1"
    assert list(second.history) == [user, assistant]
    assert [x.anthropic_file_id for x in second.files] == ["file_1"]


async def test_expired_lease_is_taken_over_and_unanswered_turn_is_rerun(database_url: str) -> None:

    store = await open_store(database_url, lease_seconds=0.2)
    try:
        await store.enqueue(msg("100.000001", "question"))
        dead = await claim(store, "dead-replica")
        assert dead.turn_id is not None
        await store.save_turn(
            KEY,
            0,
            dead.turn_id,
            [{"role": "user", "content": [{"type": "text", "text": "question"}]}],
            owner="dead-replica",
        )
        assert await store.start_turn(KEY, "survivor") is None
        deadline = time.time() + 5
        while not await store.orphaned_threads():
            assert time.time() < deadline
            await asyncio.sleep(0.05)
        assert await store.orphaned_threads() == [KEY]
        resumed = await claim(store, "survivor")
        assert [t.posted_output for t in resumed.interrupted] == [False]
        assert [i.text for i in resumed.items] == ["question"]  # re-run ...
        assert resumed.history == ()  # ... from the history before the dead turn
    finally:
        await store.close()


async def test_a_turn_whose_worker_crashed_is_rerun_by_the_same_replica(database_url: str) -> None:

    store = await open_store(database_url, lease_seconds=0.2)
    try:
        await store.enqueue(msg("100.000001", "question"))
        await store.enqueue(msg("200.000001", "elsewhere", key=OTHER))
        await claim(store, "a")  # its worker then crashes: the turn is never finished
        busy = await claim(store, "a", OTHER)  # a worker that is alive
        deadline = time.time() + 5
        while KEY not in await store.orphaned_threads():
            assert time.time() < deadline
            await store.renew_leases("a", [OTHER])  # the heartbeat renews live workers' leases only
            await asyncio.sleep(0.05)
        assert OTHER not in await store.orphaned_threads()
        resumed = await claim(store, "a")
        assert [t.posted_output for t in resumed.interrupted] == [False]
        assert [i.text for i in resumed.items] == ["question"]
        assert await finish(store, busy, "a") is False
    finally:
        await store.close()


async def test_an_interrupted_turn_that_may_have_posted_is_resolved_by_the_caller(database_url: str) -> None:

    store = await open_store(database_url, lease_seconds=0.2)
    try:
        await store.enqueue(msg("100.000001", "first"))
        done = await claim(store, "a")
        await finish(store, done, "a", answer_ts="100.000002")
        await store.enqueue(msg("100.000003", "question"))
        dead = await claim(store, "dead")
        assert dead.turn_id is not None
        await store.mark_posted(dead.turn_id, "dead")
        await store.enqueue(msg("100.000004", "follow-up"))
        deadline = time.time() + 5
        while True:
            resumed = await store.start_turn(KEY, "survivor")
            if resumed is not None:
                break
            assert time.time() < deadline
            await asyncio.sleep(0.05)
        # Nothing is claimed until the caller has asked Slack what the dead turn showed.
        assert resumed.turn_id is None
        assert [(u.turn_id, u.last_answer_ts) for u in resumed.unsure] == [(dead.turn_id, "100.000002")]
        assert await store.resolve_interrupted(dead.turn_id, posted=True)
        after = await claim(store, "survivor")
        # A partial answer is not the answer: the question runs again, before the follow-up.
        assert [i.text for i in after.items] == ["question", "follow-up"]
        assert [t.posted_output for t in after.interrupted] == []
    finally:
        await store.close()


async def test_an_interrupted_turn_whose_output_never_appeared_runs_again(store: Store) -> None:
    await store.enqueue(msg("100.000001", "question"))
    dead = await claim(store, "dead")
    assert dead.turn_id is not None
    await store.mark_posted(dead.turn_id, "dead")
    await store.release_all("dead")
    resumed = await store.start_turn(KEY, "survivor")
    assert resumed is not None and resumed.unsure
    await store.resolve_interrupted(dead.turn_id, posted=False)
    again = await claim(store, "survivor")
    assert [i.text for i in again.items] == ["question"]


async def test_stop_requests_reach_the_owner(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    await claim(store, "a")
    assert await store.request_stop(KEY, "U9")
    assert await store.stop_requests("a") == [(KEY, "U9")]
    assert await store.stop_requests("b") == []
