"""Who takes part in a thread: its starter and everyone whose messages the bot took in."""

from __future__ import annotations

from dataclasses import replace

from bot.store import Store
from tests.store.helpers import KEY, OTHER, claim, finish, msg


async def test_the_starter_is_the_first_author_and_participants_are_everyone(store: Store) -> None:
    assert (await store.thread_people(KEY)).starter is None
    assert not await store.takes_part(KEY)
    await store.enqueue(replace(msg("100.000001"), user_id="U_ANA"))
    await store.enqueue(replace(msg("100.000003"), user_id="U_CHLOE"))
    await store.enqueue(replace(msg("100.000002"), user_id="U_BEN"))
    people = await store.thread_people(KEY)
    assert people.starter == "U_ANA"
    assert people.participants == {"U_ANA", "U_BEN", "U_CHLOE"}
    assert await store.takes_part(KEY)
    assert not await store.takes_part(OTHER)
    assert (await store.thread_people(OTHER)).participants == set()


async def test_people_outlive_their_pruned_inbox_rows(store: Store) -> None:
    await store.enqueue(replace(msg("100.000001"), user_id="U1"))
    start = await claim(store, "owner")
    await finish(store, start, "owner")
    assert await store.prune(older_than=float("inf")) >= 1
    people = await store.thread_people(KEY)
    assert people.starter == "U1" and people.participants == {"U1"}
    assert await store.takes_part(KEY)  # the thread row stays
