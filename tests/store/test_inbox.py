"""The inbox: dedupe, group commits of any size, claims made with the insert, failed and pruned rows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from bot.bounds import Full
from bot.model import Inbound, InboundKind, ThreadKey
from bot.store import Store, inbox
from bot.store.inbox import SMALL_BATCH
from bot.store.statements import ENQUEUE_CHUNK
from tests.store.helpers import KEY, OTHER, claim, finish, msg


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


async def test_a_full_inbox_refuses_so_slack_delivers_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "MAX_PENDING_INBOX", 0)
    with pytest.raises(Full):
        await store.enqueue(msg("100.000001"))
    monkeypatch.setattr(inbox, "MAX_PENDING_INBOX", 10)
    assert (await store.enqueue(msg("100.000001"))).new
