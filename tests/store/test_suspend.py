"""A turn suspended by a clean shutdown is resumed, whole and once, by whoever takes its thread next."""

from __future__ import annotations

import pytest

from bot.model import Inbound, InboundKind, ThreadKey, Usage
from bot.store import Store, TurnFenced, TurnStart

KEY = ThreadKey("T1", "C1", "100.000001")


def text(role: str, value: str) -> dict[str, object]:
    return {"role": role, "content": [{"type": "text", "text": value}]}


async def ask(store: Store, ts: str, words: str) -> None:
    await store.enqueue(Inbound(KEY, ts, "U1", words, InboundKind.MENTION))


async def claim(store: Store, owner: str) -> TurnStart:
    start = await store.start_turn(KEY, owner)
    assert start is not None and start.turn_id is not None
    return start


async def answer(store: Store, start: TurnStart, owner: str, *messages: dict[str, object]) -> None:
    assert start.turn_id is not None
    await store.save_turn(KEY, 0, start.turn_id, list(messages), owner=owner)
    await store.finish_turn(
        start.turn_id, KEY, owner=owner, outcome="answered", user_id="U1", model="m", turn_usage=Usage()
    )


async def test_a_suspended_turn_is_resumed_whole_before_anything_else_of_its_thread(store: Store) -> None:
    await ask(store, "100.000001", "first")
    first = await claim(store, "old")
    await answer(store, first, "old", text("user", "first"), text("assistant", "one"))
    await ask(store, "100.000002", "second")
    turn = await claim(store, "old")
    assert turn.turn_id is not None
    saved = [text("user", "second"), text("assistant", "part of two")]
    await store.save_turn(KEY, 0, turn.turn_id, saved, stop_reason="pause_turn", owner="old")
    await store.suspend_turn(turn.turn_id, "old")
    await store.release_all("old")  # the clean shutdown gives the lease back at once
    await ask(store, "100.000003", "third, written during the restart")

    assert await store.orphaned_threads() == [KEY]  # found at start-up by the sweeper
    resumed = await claim(store, "new")
    assert resumed.turn_id == turn.turn_id  # the same turn goes on, now the new process's
    assert [i.text for i in resumed.items] == ["second"]
    assert list(resumed.history) == [text("user", "first"), text("assistant", "one")]
    assert resumed.resumed is not None
    assert list(resumed.resumed.messages) == saved and resumed.resumed.stop_reason == "pause_turn"
    assert resumed.interrupted == ()

    # It runs and finishes like any turn, then the message that came meanwhile gets its own.
    await store.save_turn(KEY, 0, turn.turn_id, [*saved, text("assistant", "rest of two")], owner="new")
    assert await store.finish_turn(
        turn.turn_id, KEY, owner="new", outcome="answered", user_id="U1", model="m", turn_usage=Usage()
    )
    after = await claim(store, "new")
    assert [i.text for i in after.items] == ["third, written during the restart"] and after.resumed is None


async def test_only_the_owner_of_a_running_turn_can_suspend_it(store: Store) -> None:
    await ask(store, "100.000001", "question")
    turn = await claim(store, "a")
    assert turn.turn_id is not None
    with pytest.raises(TurnFenced):
        await store.suspend_turn(turn.turn_id, "b")
    await store.suspend_turn(turn.turn_id, "a")
    with pytest.raises(TurnFenced):
        await store.suspend_turn(turn.turn_id, "a")  # no longer running


async def test_a_turn_suspended_before_a_new_session_is_not_resumed(store: Store) -> None:
    await ask(store, "100.000001", "question of the old session")
    turn = await claim(store, "a")
    assert turn.turn_id is not None
    await store.suspend_turn(turn.turn_id, "a")
    await store.release_all("a")
    await store.reset_thread(KEY)  # "New session" pressed while the bot was restarting
    idle = await store.start_turn(KEY, "b")
    assert idle is not None and idle.turn_id is None  # nothing to do: the lease is given back
    await ask(store, "100.000002", "fresh question")
    fresh = await claim(store, "b")
    assert fresh.resumed is None and [i.text for i in fresh.items] == ["fresh question"]


async def test_a_turn_stopped_while_suspended_is_not_resumed(store: Store) -> None:
    await ask(store, "100.000001", "question")
    turn = await claim(store, "a")
    assert turn.turn_id is not None
    await store.suspend_turn(turn.turn_id, "a")
    await store.release_all("a")
    assert await store.request_stop(KEY, "U2", turn_id=turn.turn_id)  # Stop pressed during the restart
    idle = await store.start_turn(KEY, "b")
    assert idle is not None and idle.turn_id is None and idle.resumed is None
    assert not await store.request_stop(KEY, "U2")  # nothing left running
