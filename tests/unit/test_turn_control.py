"""Stopping a turn: once, and never while it is posting its end."""

from __future__ import annotations

import asyncio

from bot.engine.control import TurnControl


async def test_a_stop_cancels_the_turn_once() -> None:
    control = TurnControl()
    control.task = asyncio.create_task(asyncio.sleep(10))
    assert control.stop("U1") and control.stop("U2")  # both presses are answered "stopped"
    assert control.stopped_by == "U1"
    await asyncio.gather(control.task, return_exceptions=True)
    assert control.task.cancelled()
    assert control.task.cancelling() == 1  # one cancellation to handle, not two


async def test_a_stop_while_the_turn_posts_its_end_is_too_late() -> None:
    control = TurnControl()
    control.task = asyncio.create_task(asyncio.sleep(10))
    control.closing = True
    assert not control.stop("U1")
    assert not control.task.cancelled() and control.stopped_by is None
    control.task.cancel()
    await asyncio.gather(control.task, return_exceptions=True)
