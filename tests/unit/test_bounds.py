"""Bounds under a flood: queues refuse past their ceiling (Slack delivers again), disk room is waited for."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import bounds
from bot.bounds import ByteRoom, Throttled
from bot.slack import socket


async def test_byte_room_waits_for_room_and_lets_a_big_one_through_alone() -> None:
    room = ByteRoom(100)
    order: list[str] = []

    async def hold(name: str, size: int, until: asyncio.Event) -> None:
        async with room.reserve(size):
            order.append(f"+{name}")
            await until.wait()
        order.append(f"-{name}")

    first_done, second_done = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold("a", 80, first_done))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("b", 40, second_done))  # 80 + 40 > 100: waits
    await asyncio.sleep(0.01)
    assert order == ["+a"] and room.held == 80
    first_done.set()
    await first
    await asyncio.sleep(0.01)
    assert order == ["+a", "-a", "+b"]
    second_done.set()
    await second
    async with room.reserve(500):  # bigger than the room: alone, it goes
        assert room.held == 500
    assert room.held == 0


def test_throttled_warnings_say_how_many(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.bounds")
    throttled = Throttled(log, every=3600)
    with caplog.at_level(logging.WARNING, logger="test.bounds"):
        for _ in range(1000):
            throttled.warning("full")
    assert [r.getMessage() for r in caplog.records] == ["full (1 time(s) since the last such line)"]


class Intake:
    def __init__(self) -> None:
        self.stored = 0

    def candidate(self, payload: dict[str, Any]) -> object:
        return object()

    async def store_candidate(self, candidate: object) -> None:
        self.stored += 1


async def test_socket_mode_leaves_events_unacknowledged_past_its_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "MAX_STORING_EVENTS", 2)
    intake = Intake()
    client = socket.MessageFastClient(intake, app_token="xapp-1-x", web_client=AsyncWebClient(token="xoxb-x"))  # type: ignore[arg-type]
    acked: list[str] = []

    async def send(message: str) -> None:
        acked.append(json.loads(message)["envelope_id"])

    client.send_message = send  # type: ignore[method-assign]
    try:
        blocked = asyncio.Event()

        async def storing() -> None:
            await blocked.wait()

        client._storing = {asyncio.create_task(storing()) for _ in range(2)}
        frame = json.dumps(
            {"type": "events_api", "envelope_id": "e1", "payload": {"event": {"type": "message"}}}
        )
        await client.enqueue_message(frame)
        await asyncio.sleep(0.01)
        assert acked == [] and intake.stored == 0  # neither stored nor acknowledged: Slack sends it again
        blocked.set()
        await asyncio.gather(*client._storing)
        client._storing = set()
        await client.enqueue_message(frame)
        await asyncio.sleep(0.01)
        assert acked == ["e1"] and intake.stored == 1
    finally:
        await client.close()  # type: ignore[no-untyped-call]


def test_the_ceilings_are_generous() -> None:
    assert bounds.MAX_PENDING_INBOX >= 10_000 and bounds.MAX_STORING_EVENTS >= 1_000
