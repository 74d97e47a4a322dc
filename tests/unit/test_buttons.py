"""Which thread a button press may act on, and who may start a thread over."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model import ThreadKey
from bot.slack.buttons import PressedIn, acts_on, may_start_over, pressed_in, thread_of_value

TEAM = "T0123ABCD"
KEY = ThreadKey(TEAM, "C1", "100.000001")


def press(container: dict[str, Any], message: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "block_actions", "container": container, "channel": {"id": "C1"}}
    if message is not None:
        body["message"] = message
    return body


IN_THREAD = press(
    {"type": "message", "message_ts": "100.000009", "channel_id": "C1", "thread_ts": "100.000001"}
)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (IN_THREAD, PressedIn("C1", "100.000001")),
        # No thread_ts in the container: the message's own thread_ts says it.
        (
            press(
                {"type": "message", "message_ts": "100.000009", "channel_id": "C1"},
                {"thread_ts": "100.000001"},
            ),
            PressedIn("C1", "100.000001"),
        ),
        # A message that is not in a thread is its own root.
        (
            press({"type": "message", "message_ts": "100.000001", "channel_id": "C1"}, {}),
            PressedIn("C1", "100.000001"),
        ),
        # The channel from the payload's `channel` when the container lacks it.
        (press({"type": "message", "message_ts": "100.000001"}), PressedIn("C1", "100.000001")),
        (press({"type": "view", "view_id": "V1"}), None),
        (press({"type": "message", "channel_id": "C1"}), None),
        ({"type": "block_actions"}, None),
    ],
)
def test_pressed_in(body: dict[str, Any], where: PressedIn | None) -> None:
    assert pressed_in(body) == where


@pytest.mark.parametrize(
    ("value", "body", "acts"),
    [
        (str(KEY), IN_THREAD, True),
        # A value naming another thread, channel or workspace than the button's message: nothing.
        (str(ThreadKey(TEAM, "C1", "200.000001")), IN_THREAD, False),
        (str(ThreadKey(TEAM, "C2", "100.000001")), IN_THREAD, False),
        (str(ThreadKey("T0OTHER", "C1", "100.000001")), IN_THREAD, False),
        ("not a thread", IN_THREAD, False),
        ("", IN_THREAD, False),
        (str(KEY), press({"type": "view"}), False),
    ],
)
def test_a_press_acts_only_on_the_thread_its_button_is_in(
    value: str, body: dict[str, Any], acts: bool
) -> None:
    assert (acts_on(body, thread_of_value(value), TEAM) == KEY) is acts


@pytest.mark.parametrize(
    ("user", "starter", "participants", "admin", "may"),
    [
        ("U_ANA", "U_ANA", frozenset({"U_ANA"}), False, True),
        ("U_BEN", "U_ANA", frozenset({"U_ANA", "U_BEN"}), False, True),
        ("U_CHLOE", "U_ANA", frozenset({"U_ANA", "U_BEN"}), False, False),
        ("U_BOSS", "U_ANA", frozenset({"U_ANA"}), True, True),
        ("U_CHLOE", None, frozenset(), False, False),
    ],
)
def test_who_may_start_a_thread_over(
    user: str, starter: str | None, participants: frozenset[str], admin: bool, may: bool
) -> None:
    assert may_start_over(user, starter=starter, participants=participants, admin=admin) is may
