"""The store's promises: dedupe, ordered claims, leases that never strand a message, crash recovery."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey, Usage
from bot.store import Store, StoredFile, TurnStart, open_store
from bot.store.repository import SMALL_BATCH
from bot.store.statements import ENQUEUE_CHUNK

KEY = ThreadKey("T1", "C1", "100.000001")
OTHER = ThreadKey("T1", "C1", "200.000001")


def msg(ts: str, text: str = "hi", key: ThreadKey = KEY, event_id: str | None = None) -> Inbound:
    return Inbound(
        key=key,
        ts=ts,
        user_id="U1",
        text=text,
        kind=InboundKind.MENTION,
        files=(InboundFile("F1", "a.csv", "text/csv", 3, "http://x/a.csv"),),
        event_id=event_id,
    )


async def claim(store: Store, owner: str, key: ThreadKey = KEY) -> TurnStart:
    start = await store.start_turn(key, owner)
    assert start is not None and start.turn_id is not None
    return start


async def finish(
    store: Store,
    start: TurnStart,
    owner: str,
    outcome: str = "answered",
    *,
    usage: Usage | None = None,
    requeue: bool = False,
    answer_ts: str | None = None,
) -> bool:
    assert start.turn_id is not None
    return await store.finish_turn(
        start.turn_id,
        start.thread.key,
        owner=owner,
        outcome=outcome,
        user_id="U1",
        model="m",
        turn_usage=usage or Usage(),
        requeue=requeue,
        answer_ts=answer_ts,
    )


async def test_twins_and_redeliveries_collapse_to_one_row(store: Store) -> None:
    results = await asyncio.gather(
        store.enqueue(msg("100.000001", event_id="Ev1")),
        store.enqueue(msg("100.000001", event_id="Ev2")),  # the message twin of the same mention
        store.enqueue(msg("100.000001", event_id="Ev1")),  # a redelivery
    )
    assert [r.new for r in results] == [True, False, False]
    again = await store.enqueue(msg("100.000001", event_id="Ev1"))
    assert not again.new
    assert await store.pending_count() == 1


async def test_a_batch_larger_than_one_insert_is_stored_whole_and_once(store: Store) -> None:
    await store.enqueue(msg("100.000700", "stored before"))
    count = 2 * ENQUEUE_CHUNK + 1  # three INSERT statements
    stamps = [f"100.{n + 1:06d}" for n in range(count)]
    results = await asyncio.gather(
        *(store.enqueue(msg(ts, f"m{n}", event_id=f"Ev{n}")) for n, ts in enumerate(stamps)),
        *(store.enqueue(msg(ts, "twin", event_id=f"Tw{n}")) for n, ts in enumerate(stamps[::100])),
    )
    assert [r.new for r in results[:count]] == [ts != "100.000700" for ts in stamps]
    assert not any(r.new for r in results[count:])
    assert await store.pending_count() == count
    start = await claim(store, "a")
    assert [i.text for i in start.items] == [
        "stored before" if ts == "100.000700" else f"m{n}" for n, ts in enumerate(stamps)
    ]


async def test_a_batch_over_more_threads_than_one_statement_takes_claims_them_all(store: Store) -> None:
    await store.enqueue(msg("100.000001", "hello"))
    held = await claim(store, "b")  # one thread of the batch is busy
    keys = [KEY] + [ThreadKey("T1", "C1", f"{300 + n}.000001") for n in range(2 * ENQUEUE_CHUNK)]
    results = await asyncio.gather(
        *(store.enqueue(msg(f"{k.thread_ts[:-1]}2", key=k), claim_for="a") for k in keys)
    )
    assert all(r.new for r in results)
    assert results[0].thread_busy and not any(r.thread_busy for r in results[1:])
    starts = [await r.claimed for r in results[1:] if r.claimed is not None]
    assert len(starts) == len(keys) - 1 and all(s is not None and s.turn_id for s in starts)
    await finish(store, held, "b")


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

    from bot.store import open_store

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
    from bot.store import open_store

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
    from bot.store import open_store

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
    from bot.store import open_store

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
        assert [i.text for i in after.items] == ["follow-up"]  # the question counts as answered in part
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


async def test_failed_messages_wait_for_the_next_message(store: Store) -> None:
    await store.enqueue(msg("100.000001", "lost?"))
    start = await claim(store, "a")
    assert await finish(store, start, "a", outcome="failed", requeue=True) is False
    alone = await store.start_turn(KEY, "a")
    assert alone is not None and alone.turn_id is None  # failed rows alone do not loop
    await store.enqueue(msg("100.000002", "again"))
    nxt = await claim(store, "a")
    assert [i.text for i in nxt.items] == ["lost?", "again"]
    assert await store.retry_failed(KEY) == 0


async def test_retry_puts_failed_messages_back(store: Store) -> None:
    await store.enqueue(msg("100.000001", "lost?"))
    await finish(store, await claim(store, "a"), "a", outcome="failed", requeue=True)
    assert await store.retry_failed(KEY) == 1
    assert [i.text for i in (await claim(store, "a")).items] == ["lost?"]


async def test_reset_starts_a_new_generation(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    start = await claim(store, "a")
    assert start.turn_id is not None
    await store.save_turn(
        KEY,
        0,
        start.turn_id,
        [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        container_id="c1",
        owner="a",
    )
    await store.record_file(
        KEY, StoredFile("upload", "F1", "F1", "file_1", "a.csv", "text/csv", 3, "abc", time.time())
    )
    await finish(store, start, "a")
    assert await store.reset_thread(KEY) == ["file_1"]
    await store.enqueue(msg("100.000002"))
    fresh = await claim(store, "a")
    assert fresh.thread.generation == 1 and fresh.thread.container_id is None
    assert fresh.history == () and fresh.files == ()


async def test_stop_requests_reach_the_owner(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    await claim(store, "a")
    assert await store.request_stop(KEY, "U9")
    assert await store.stop_requests("a") == [(KEY, "U9")]
    assert await store.stop_requests("b") == []


async def test_usage_is_summed_per_user(store: Store) -> None:
    await store.enqueue(msg("100.000001"))
    await finish(store, await claim(store, "a"), "a", usage=Usage(10, 20, 30, 40, 2))
    summary = await store.usage_since("U1", 0)
    assert summary.turns == 1 and summary.usage == Usage(10, 20, 30, 40, 2)


async def test_prune_keeps_what_live_leases_need(store: Store) -> None:
    await store.enqueue(msg("100.000001", key=KEY))
    await store.enqueue(msg("200.000001", key=OTHER))
    await finish(store, await claim(store, "a", OTHER), "a")  # released
    held = await claim(store, "a", KEY)
    assert held.turn_id is not None
    await store.save_turn(KEY, 0, held.turn_id, [], owner="a")
    assert await store.mark_event_processed("Ev9")
    assert not await store.mark_event_processed("Ev9")
    removed = await store.prune(time.time() + 1)
    assert removed == 2  # the processed event and OTHER's finished row; KEY's claimed row stays
    assert await store.mark_event_processed("Ev9")


async def test_a_small_batch_claims_its_threads_turns_in_the_enqueue(store: Store) -> None:
    first, twin, other = await asyncio.gather(
        store.enqueue(msg("100.000001", "hello"), claim_for="a"),
        store.enqueue(msg("100.000001", "hello"), claim_for="a"),  # its app_mention/message twin
        store.enqueue(msg("200.000001", "elsewhere", key=OTHER), claim_for="a"),
    )
    assert first.claimed is not None and twin.claimed is None and not twin.new
    start = await first.claimed
    assert start is not None and start.turn_id is not None
    assert [i.text for i in start.items] == ["hello"] and start.items[0].files
    assert not start.thread.context_loaded and start.history == ()
    assert other.claimed is not None
    other_start = await other.claimed
    assert other_start is not None and other_start.thread.key == OTHER
    assert await store.start_turn(KEY, "b") is None  # leased by a
    assert await store.pending_count() == 0
    # While a turn runs, a new message is not claimed: it joins the next turn.
    during = await store.enqueue(msg("100.000002", "meanwhile"), claim_for="a")
    assert during.new and during.thread_busy and during.claimed is None
    await finish(store, start, "a")
    nxt = await claim(store, "a")
    assert [i.text for i in nxt.items] == ["meanwhile"]
    assert nxt.turn_id is not None
    await store.save_turn(
        KEY, 0, nxt.turn_id, [{"role": "user", "content": [{"type": "text", "text": "q"}]}], owner="a"
    )
    await finish(store, nxt, "a")
    # An idle thread that exists is claimed with its history.
    later = await store.enqueue(msg("100.000003", "again"), claim_for="a")
    assert later.new and not later.thread_busy and later.claimed is not None
    again = await later.claimed
    assert again is not None and [i.text for i in again.items] == ["again"]
    assert again.thread.context_loaded and len(again.history) == 1


async def test_a_burst_claims_its_new_threads_together_after_storing_them(store: Store) -> None:
    await store.enqueue(msg("100.000001", "hello"))
    await finish(store, await claim(store, "a"), "a")  # KEY exists and is idle
    new_keys = [ThreadKey("T1", "C1", f"{300 + n}.000001") for n in range(SMALL_BATCH * 2)]
    results = await asyncio.gather(
        store.enqueue(msg("100.000009", "existing"), claim_for="a"),
        *(store.enqueue(msg(k.thread_ts, f"new {n}", key=k), claim_for="a") for n, k in enumerate(new_keys)),
    )
    assert all(r.new for r in results)
    existing, *fresh = results
    assert existing.claimed is not None and await existing.claimed is None  # left to its worker
    for n, (key, result) in enumerate(zip(new_keys, fresh, strict=True)):
        assert result.claimed is not None
        start = await result.claimed
        assert start is not None and start.turn_id is not None and start.thread.key == key
        assert [i.text for i in start.items] == [f"new {n}"]
        assert await store.start_turn(key, "b") is None  # leased by a
    nxt = await store.start_turn(KEY, "a")
    assert nxt is not None and [i.text for i in nxt.items] == ["existing"]


async def test_warming_up_leaves_no_trace(store: Store) -> None:
    await store.warm_up("a")
    await store.warm_up("a")  # twice: nothing of the first is left to conflict with
    assert await store.pending_count() == 0
    assert await store.orphaned_threads() == []
    first = await store.enqueue(msg("100.000001", "hello"), claim_for="a")
    assert first.new and first.claimed is not None
    start = await first.claimed
    assert start is not None and [i.text for i in start.items] == ["hello"]


async def test_a_plain_reply_is_stored_only_where_the_bot_takes_part(store: Store) -> None:
    def reply(ts: str, key: ThreadKey) -> Inbound:
        return replace(msg(ts, "a reply", key=key), kind=InboundKind.MESSAGE)

    elsewhere = ThreadKey("T1", "C1", "300.000001")
    ignored = await store.enqueue(reply("300.000002", elsewhere), in_conversation_only=True)
    assert not ignored.new and await store.pending_count() == 0
    # A mention and a reply to it in the same batch: the mention opens the conversation.
    mention, follow = await asyncio.gather(
        store.enqueue(msg("100.000001", "hello")),
        store.enqueue(reply("100.000002", KEY), in_conversation_only=True),
    )
    assert mention.new and follow.new
    # A thread whose messages wait in the inbox, and one the bot has answered in.
    queued = await store.enqueue(reply("100.000003", KEY), in_conversation_only=True)
    assert queued.new
    await finish(store, await claim(store, "a"), "a")
    later = await store.enqueue(reply("100.000004", KEY), in_conversation_only=True)
    assert later.new and await store.pending_count() == 1


async def test_files_made_are_recorded_as_they_appear_and_deleted_ids_stay_known(store: Store) -> None:
    """Issue 12, item 5: produced files are the thread's as soon as their ids appear (whatever
    becomes of the turn); a deleted file's id stays known even after it is attached again."""
    await store.record_outputs(KEY, ["file_out", "file_out", "file_out2"])
    await store.record_outputs(KEY, ["file_out"])  # seen again (a resumed result): one row
    assert [f.anthropic_file_id for f in await store.thread_files(KEY, origin="output")] == [
        "file_out",
        "file_out2",
    ]
    # The finished turn names it when it downloads it.
    await store.record_file(
        KEY, StoredFile("output", "file_out", None, "file_out", "chart.png", "image/png", 9, "", 1.0)
    )
    outputs = {f.anthropic_file_id: f.name for f in await store.thread_files(KEY, origin="output")}
    assert outputs == {"file_out": "chart.png", "file_out2": ""}
    upload = StoredFile("upload", "F1", "F1", "file_old", "a.csv", "text/csv", 3, "abc", time.time())
    await store.record_file(KEY, upload)
    await store.mark_files_deleted(["file_old", "file_out2"])
    assert await store.deleted_files(KEY) == {"file_old": "a.csv", "file_out2": ""}
    # The same Slack file attached again: a new upload, kept; the deleted id is still known.
    await store.record_file(KEY, replace(upload, anthropic_file_id="file_new"))
    assert [f.anthropic_file_id for f in await store.thread_files(KEY)] == ["file_new"]
    assert await store.deleted_files(KEY) == {"file_old": "a.csv", "file_out2": ""}
    assert sorted(await store.reset_thread(KEY)) == ["file_new", "file_out"]
    assert set(await store.deleted_files(KEY)) == {"file_old", "file_out2", "file_new", "file_out"}


# --- the twin events of a mention: app_mention and message, in either order, either without files ---

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
