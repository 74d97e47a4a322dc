"""Which thread a button press may act on, and who may start a thread over (pure).

A button's value names the thread it acts on, but the value comes back from the person's client, so it
could be made up: a press counts only when the message the button is on (the `block_actions`
payload's `container`: `channel_id`, `message_ts`, `thread_ts`; or its `message.thread_ts`,
docs.slack.dev/reference/interaction-payloads/block_actions-payload) is in that same thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.model import ThreadKey


@dataclass(frozen=True)
class PressedIn:
    """Where the pressed button's message is: its channel and the root of its thread."""

    channel_id: str
    thread_ts: str


def pressed_in(body: Mapping[str, Any]) -> PressedIn | None:
    """The thread of the message carrying the button, from what Slack says about the press."""
    container = body.get("container")
    if not isinstance(container, Mapping) or container.get("type") != "message":
        return None
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    message_ts = container.get("message_ts")
    if not channel or not message_ts:
        return None
    found = body.get("message")
    message: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    # A message in a thread names its root; a root (or a lone message) is its own.
    root = container.get("thread_ts") or message.get("thread_ts") or message_ts
    return PressedIn(str(channel), str(root))


def thread_of_value(value: str) -> ThreadKey | None:
    try:
        return ThreadKey.parse(value)
    except ValueError:
        return None


def acts_on(body: Mapping[str, Any], named: ThreadKey | None, team_id: str) -> ThreadKey | None:
    """The thread the press may act on: the one its value names, only when the button is in it."""
    where = pressed_in(body)
    if named is None or where is None:
        return None
    if (named.team_id, named.channel_id, named.thread_ts) != (team_id, where.channel_id, where.thread_ts):
        return None
    return named


def may_start_over(user_id: str, *, starter: str | None, participants: frozenset[str], admin: bool) -> bool:
    """New session forgets the thread for everyone in it: only its starter, someone who took part
    (whose message the bot took in) or an admin may do that."""
    return admin or user_id == starter or user_id in participants
