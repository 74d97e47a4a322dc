"""Which Socket Mode frames take the direct route for message events (bot/slack/socket.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.socket import message_envelope


def frame(event_type: str | None, *, kind: str = "events_api", envelope_id: Any = "e-1") -> str:
    payload: dict[str, Any] = {"type": "event_callback", "team_id": "T1"}
    if event_type is not None:
        payload["event"] = {"type": event_type, "text": "hi", "channel": "C1", "ts": "1.000001"}
    return json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload})


@pytest.mark.parametrize(
    ("raw", "direct"),
    [
        (frame("app_mention"), True),
        (frame("message"), True),
        (frame("reaction_added"), False),  # other events go through Bolt
        (frame("app_home_opened"), False),
        (frame(None), False),
        (frame("message", kind="slash_commands"), False),
        (frame("message", kind="interactive"), False),
        (frame("message", envelope_id=None), False),
        ('{"type": "hello", "num_connections": 1}', False),
        ('{"type": "disconnect", "reason": "refresh_requested"}', False),
        ("not json", False),
        ("[1, 2]", False),
    ],
)
def test_only_message_events_take_the_direct_route(raw: str, direct: bool) -> None:
    found = message_envelope(raw)
    assert (found is not None) is direct
    if found is not None:
        envelope_id, payload = found
        assert envelope_id == "e-1" and payload["event"]["type"] in ("app_mention", "message")
