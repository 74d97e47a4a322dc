"""A thread's history: New session starts a new generation and forgets the sandbox."""

from __future__ import annotations

import time

from bot.store import Store, StoredFile
from tests.store.helpers import KEY, claim, finish, msg


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
