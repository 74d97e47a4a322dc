"""Which message events are turned away as malformed (bot/slack/event_shape.py), table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.event_shape import problem, routing_problem

GOOD: dict[str, Any] = {
    "type": "message",
    "user": "U1",
    "channel": "C1",
    "text": "hi",
    "ts": "1700000000.000100",
    "thread_ts": "1700000000.000001",
    "files": [{"id": "F1", "name": "a.csv", "size": 3, "url_private": "https://files.slack.com/a"}],
}


def body(**event: Any) -> dict[str, Any]:
    return {"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {**GOOD, **event}}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (body(), None),
        (body(subtype="file_share", channel_type="im", edited=None), None),
        (body(files=None, thread_ts=None), None),
        ({"event": "not an object"}, "`event` is not an object"),
        ({**body(), "event_id": 5}, "`event_id` is not a string"),
        (body(user=["U1"]), "`event.user` is not a string"),
        (body(channel={"id": "C1"}), "`event.channel` is not a string"),
        (body(text=7), "`event.text` is not a string"),
        (body(ts=1700000000.0001), "`event.ts` is not a Slack timestamp"),
        (body(ts="yesterday"), "`event.ts` is not a Slack timestamp"),
        (body(thread_ts="1.2.3"), "`event.thread_ts` is not a Slack timestamp"),
        (body(text="x" * 1_000_001), "`event.text` is larger than any Slack message"),
        (body(edited="yes"), "`event.edited` is not an object"),
        (body(files="F1"), "`event.files` is not a list"),
        (body(files=["F1"]), "`event.files[0]` is not an object"),
        (body(files=[{"id": 1}]), "`event.files[0].id` is not a string"),
        (body(files=[{"id": "F1", "size": "big"}]), "`event.files[0].size` is not a byte count"),
        (body(files=[{"id": "F1", "size": True}]), "`event.files[0].size` is not a byte count"),
        (body(files=[{"id": "F1", "size": -1}]), "`event.files[0].size` is not a byte count"),
    ],
)
def test_problem(payload: dict[str, Any], expected: str | None) -> None:
    assert problem(payload) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "reaction_added", "user": "U1", "item": {"channel": "C1"}}, None),
        ({"type": "member_joined_channel", "user": {"id": "U1"}, "channel": "C1"}, None),
        ({"type": 5}, "`event.type` is not a string"),
        ({"type": "reaction_added", "channel": 7}, "`event.channel` is neither a string nor an object"),
        ({"type": "reaction_added", "user": ["U1"]}, "`event.user` is neither a string nor an object"),
        ({"type": "file_shared", "channel_id": 1}, "`event.channel_id` is not a string"),
        ({"type": "reaction_added", "item": "C1"}, "`event.item` is not an object"),
    ],
)
def test_routing_problem(event: dict[str, Any], expected: str | None) -> None:
    assert routing_problem({"event": event}) == expected
