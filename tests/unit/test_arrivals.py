"""When the inbox counts as in a burst (work that can wait yields to acknowledgements then)."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.arrivals import Arrivals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("gaps", "in_burst"),
    [
        ([], False),
        ([0.001] * 14, False),  # 15 arrivals: one short of a burst
        ([0.001] * 15, True),  # 16 within 15 ms
        ([0.004] * 15, False),  # 16 spread over 60 ms: never 16 within the 50 ms window
        ([0.0] * 15 + [0.06] * 3, True),  # still in it: the end is only noticed by the timer
    ],
)
def test_a_burst_is_enough_arrivals_within_the_window(gaps: list[float], in_burst: bool) -> None:
    async def run() -> bool:
        clock = Clock()
        arrivals = Arrivals(burst=16, window=0.05, gap=0.005, clock=clock)
        arrivals.note()
        for gap in gaps:
            clock.now += gap
            arrivals.note()
        return arrivals.in_burst

    assert asyncio.run(run()) is in_burst


async def test_a_burst_ends_once_arrivals_pause() -> None:
    arrivals = Arrivals(burst=3, window=1.0, gap=0.01)
    for _ in range(3):
        arrivals.note()
    assert arrivals.in_burst
    waiter = asyncio.create_task(arrivals.calm(at_most=5.0))
    await asyncio.wait_for(waiter, 2.0)  # returns when the gap passes, long before at_most
    assert not arrivals.in_burst


async def test_waiting_for_calm_is_bounded() -> None:
    arrivals = Arrivals(burst=2, window=10.0, gap=10.0)
    arrivals.note()
    arrivals.note()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await arrivals.calm(at_most=0.05)
    assert arrivals.in_burst and loop.time() - started < 5.0
    await arrivals.calm(at_most=0.0)


async def test_outside_a_burst_nothing_waits() -> None:
    arrivals = Arrivals()
    arrivals.note()
    await asyncio.wait_for(arrivals.calm(at_most=60.0), 1.0)
