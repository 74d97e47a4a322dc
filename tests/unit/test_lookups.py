"""The lookup cache: shared lookups, failures not kept, old entries answered at once and refreshed."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.lookups import Lookups


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_one_lookup_serves_everyone_waiting_for_it() -> None:
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "Ana"

    cache: Lookups[str] = Lookups(10)
    waiting = [asyncio.create_task(cache.get("U1", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*waiting)) == {"Ana"} and calls == 1
    assert await cache.get("U1", fetch) == "Ana" and calls == 1


async def test_a_failed_lookup_is_not_kept() -> None:
    answers: list[str | Exception] = [ConnectionError("down"), "Ana"]

    async def fetch() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache: Lookups[str] = Lookups(10)
    with pytest.raises(ConnectionError):
        await cache.get("U1", fetch)
    assert cache.cached("U1") is None
    assert await cache.get("U1", fetch) == "Ana"


async def test_an_old_entry_is_answered_at_once_and_refreshed_behind() -> None:
    clock = Clock()
    values = iter(["member", "guest"])
    refreshed = asyncio.Event()

    async def fetch() -> str:
        value = next(values)
        if value == "guest":
            refreshed.set()
        return value

    cache: Lookups[str] = Lookups(10, max_age=600, clock=clock)
    assert await cache.get("U1", fetch) == "member"
    clock.now = 601
    assert await cache.get("U1", fetch) == "member"  # no waiting on the acknowledgement path
    await asyncio.wait_for(refreshed.wait(), 1)
    await asyncio.sleep(0)
    assert cache.cached("U1") == "guest"


async def test_a_failed_refresh_keeps_what_was_known() -> None:
    clock = Clock()
    failed = asyncio.Event()
    first = True

    async def fetch() -> str:
        nonlocal first
        if first:
            first = False
            return "member"
        failed.set()
        raise ConnectionError("down")

    cache: Lookups[str] = Lookups(10, max_age=1, clock=clock)
    await cache.get("U1", fetch)
    clock.now = 5
    assert await cache.get("U1", fetch) == "member"
    await asyncio.wait_for(failed.wait(), 1)
    await asyncio.sleep(0)
    assert cache.cached("U1") == "member"


async def test_the_cache_keeps_the_most_recent() -> None:
    cache: Lookups[int] = Lookups(2)

    async def value(n: int) -> int:
        return n

    for n in range(3):
        await cache.get(str(n), lambda n=n: value(n))  # type: ignore[misc]
    assert [cache.cached(k) for k in ("0", "1", "2")] == [None, 1, 2]


async def test_a_caller_that_stops_waiting_does_not_stop_the_lookup() -> None:
    gate = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "Ana"

    cache: Lookups[str] = Lookups(10)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await cache.get("U1", fetch)
    gate.set()
    assert await cache.get("U1", fetch) == "Ana" and calls == 1  # the same lookup, finished
