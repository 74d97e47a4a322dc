"""Pacing Slack calls: token buckets that adapt to 429s, and who goes first when a limit is reached."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.paced_client import QUIET_SECONDS, Bucket, Key, Option, Pacer, Priority
from bot.slack.rate_limits import RateBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("rate", "burst", "takes", "at", "available"),
    [
        (1.0, 3.0, 0, 0.0, 3.0),  # a full burst at first
        (1.0, 3.0, 3, 0.0, 0.0),
        (1.0, 3.0, 3, 1.5, 1.5),  # then the sustained rate
        (1.0, 3.0, 3, 60.0, 3.0),  # never more than the burst
        (20 / 60, 20.0, 20, 3.0, 1.0),  # Tier 2: one more every 3 s
    ],
)
def test_a_bucket_gives_its_burst_then_its_rate(
    rate: float, burst: float, takes: int, at: float, available: float
) -> None:
    bucket = Bucket(rate, burst, tokens=burst, at=0.0)
    for _ in range(takes):
        bucket.take(0.0)
    assert bucket.available(at) == pytest.approx(available)


def test_a_429_pauses_exactly_retry_after_then_halves_the_rate_and_recovers_it() -> None:
    bucket = Bucket(1.0, 3.0, tokens=3.0, at=0.0)
    bucket.limited(10.0, retry_after=2.0)
    # Nothing before Retry-After, then the one call Slack's Retry-After promises, then half the rate.
    assert bucket.available(11.9) == 0.0 and bucket.next_token_at(10.0) == pytest.approx(12.0)
    bucket.take(12.0)
    assert bucket.available(13.0) == pytest.approx(0.5)
    bucket.limited(13.0, retry_after=1.0)
    assert bucket.current == pytest.approx(0.25)
    # Quiet periods after the last pause bring the rate back, a step at a time, up to the documented.
    assert bucket.available(14.0 + QUIET_SECONDS) >= 0 and bucket.current == pytest.approx(0.5)
    bucket.available(14.0 + 10 * QUIET_SECONDS)
    assert bucket.current == pytest.approx(1.0)


def test_a_promised_call_is_not_available_to_others_until_it_is_made() -> None:
    bucket = Bucket(0.0, 2.0, tokens=2.0, at=0.0)
    bucket.reserved += 1
    assert bucket.available(0.0) == 1.0
    bucket.reserved -= 1
    bucket.take(0.0)  # made: the promise becomes a spent token
    assert bucket.available(0.0) == 1.0


def pacer(limits: dict[Key, tuple[float, float]], clock: Clock) -> Pacer:
    return Pacer(limits.get, clock)


async def test_waiters_go_by_priority_and_optional_calls_do_not_jump_the_queue() -> None:
    clock = Clock()
    p = pacer({"m": (1.0, 1.0)}, clock)
    assert p.try_take(Option(("m",)))
    order: list[str] = []

    async def wait(name: str, priority: Priority) -> None:
        await p.take([Option(("m",))], priority)
        order.append(name)

    live = asyncio.create_task(wait("final", Priority.FINAL))
    await asyncio.sleep(0)
    life = asyncio.create_task(wait("life", Priority.LIFE))
    await asyncio.sleep(0)
    clock.now = 5.0  # room again (one token: the burst)
    assert not p.try_take(Option(("m",)))  # somebody waits for it
    p._serve()
    await asyncio.sleep(0)
    clock.now = 10.0
    p._serve()
    await asyncio.gather(live, life)
    assert order == ["life", "final"]


async def test_a_waiter_takes_the_first_of_its_options_with_room() -> None:
    clock = Clock()
    limits: dict[Key, tuple[float, float]] = {
        ("post", "C1"): (1.0, 1.0),
        "start": (1.0, 1.0),
        "stop": (1.0, 1.0),
    }
    p = pacer(limits, clock)
    assert p.try_take(Option((("post", "C1"),)))
    options = [Option((("post", "C1"),)), Option(("start",), reserve=("stop",))]
    assert await p.take(options, Priority.FINAL) == 1  # the post has no room, a stream has
    assert p.bucket("stop") is not None and p.bucket("stop").available(0.0) == 0.0  # type: ignore[union-attr]
    p.release_reserved("stop")
    assert p.bucket("stop").available(0.0) == 1.0  # type: ignore[union-attr]


async def test_a_budget_paces_posts_per_channel_and_a_stop_button_needs_a_quiet_channel() -> None:
    budget = RateBudget()
    assert budget.try_take_post("C1", spare=True)
    assert not budget.try_take_post("C1", spare=True)  # two of three left: not a whole burst
    assert budget.try_take_post("C1") and budget.try_take_post("C1")
    assert not budget.try_take_post("C1") and budget.try_take_post("C2")
    budget.rate_limited("chat.postMessage", "C2", 1.0)
    assert not budget.try_take_post("C2")


async def test_pacing_off_still_obeys_retry_after() -> None:
    budget = RateBudget(enabled=False)
    assert all(budget.try_take("chat.update") for _ in range(1000))
    budget.rate_limited("chat.update", None, 30.0)
    assert not budget.try_take("chat.update")


async def test_a_busy_channel_does_not_hold_up_posts_elsewhere() -> None:
    clock = Clock()
    limits: dict[Key, tuple[float, float]] = {
        ("post", "C1"): (1.0, 1.0),
        ("post", "C2"): (1.0, 1.0),
        "post": (5.0, 300.0),
    }
    p = pacer(limits, clock)
    assert p.try_take(Option((("post", "C1"), "post")))
    busy = asyncio.create_task(p.take([Option((("post", "C1"), "post"))], Priority.FINAL))
    await asyncio.sleep(0)
    assert not busy.done()
    assert await p.take([Option((("post", "C2"), "post"))], Priority.FINAL) == 0  # at once
    assert not p.try_take(Option((("post", "C1"), "post")))  # C1's next post is for its waiter
    clock.now = 2.0
    p._serve()
    assert await busy == 0
