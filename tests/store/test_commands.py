"""Slash commands in the store: stored once by trigger_id, completed by one process at a time."""

from __future__ import annotations

import time

from bot.store import SlashCommand, Store


def command(trigger_id: str = "1.2.abc") -> SlashCommand:
    return SlashCommand(trigger_id, "T1", "C1", "U1", "what is 2 + 2?", "https://hooks/x", time.time())


async def test_a_command_is_stored_once_by_its_trigger_id(store: Store) -> None:
    assert await store.commands.record(command(), "a")
    assert not await store.commands.record(command(), "a")  # the same command again: already taken
    [open_one] = await store.commands.orphaned("a")  # "a" may pick up its own unfinished command
    assert (open_one.state, open_one.text, open_one.owner) == ("received", "what is 2 + 2?", "a")


async def test_only_a_command_whose_process_is_gone_is_taken_over_and_by_one_process(store: Store) -> None:
    await store.heartbeat("alive", recent_seconds=60)
    await store.commands.record(command("1.alive"), "alive")
    await store.commands.record(command("2.dead"), "dead")  # never seen by the heartbeat: gone
    [orphan] = await store.commands.orphaned("b")
    assert orphan.trigger_id == "2.dead"
    taken = await store.commands.claim(orphan, "b")
    assert taken is not None and taken.owner == "b"
    assert await store.commands.claim(orphan, "c") is None  # "b" got there first
    await store.commands.posted("2.dead", "100.000001", "dead")  # the old owner's late step is ignored
    assert (await store.commands.orphaned("b"))[0].ts is None
    await store.commands.posted("2.dead", "100.000002", "b")
    assert (await store.commands.orphaned("b"))[0].ts == "100.000002"
    await store.commands.finished("2.dead", "b", queued=True)
    assert await store.commands.orphaned("b") == []


async def test_completed_commands_are_pruned_and_open_ones_kept(store: Store) -> None:
    await store.commands.record(command("1.done"), "a")
    await store.commands.finished("1.done", "a", queued=True)
    await store.commands.record(command("2.open"), "a")
    assert await store.prune(time.time() + 1) == 1
    assert [c.trigger_id for c in await store.commands.orphaned("a")] == ["2.open"]
