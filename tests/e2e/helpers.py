"""Reading a thread the way a person does, for assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from emulators.anthropic import RequestRecord
from emulators.slack import SlackEmulator, ViewMessage


def sent(record: RequestRecord) -> dict[str, Any]:
    """The body the bot sent to the Anthropic emulator."""
    assert record.body is not None
    return record.body


def container_of(body: dict[str, Any]) -> str | None:
    """The container id a request names: the plain string, or the `id` of the object form that
    requests loading Agent Skills carry (bot/claude/options.py)."""
    container = body.get("container")
    if isinstance(container, dict):
        return container.get("id")
    return container


def got(record: RequestRecord) -> dict[str, Any]:
    """The message the emulator answered with."""
    assert record.response is not None, record
    return record.response


def bot_messages(slack: SlackEmulator, channel: str, ts: str, viewer: str | None = None) -> list[ViewMessage]:
    return [m for m in slack.thread_view(channel, ts, viewer=viewer) if m.is_bot]


def bot_text(slack: SlackEmulator, channel: str, ts: str) -> str:
    """Everything the bot wrote in the thread, as one text (streamed and plain messages alike)."""
    return "\n".join(m.text for m in bot_messages(slack, channel, ts))


async def wait_for_text(
    slack: SlackEmulator, channel: str, ts: str, needle: str, timeout: float = 20.0
) -> str:
    await slack.wait_for(
        lambda: needle in bot_text(slack, channel, ts), timeout=timeout, what=f"{needle!r} in the thread"
    )
    return bot_text(slack, channel, ts)


def stop_buttons(slack: SlackEmulator, channel: str, ts: str) -> list[ViewMessage]:
    """The bot's messages in the thread that carry a Stop button."""
    return [m for m in bot_messages(slack, channel, ts) if "stop_turn" in str(m.blocks)]


async def wait_stop_button(slack: SlackEmulator, channel: str, ts: str, timeout: float = 20.0) -> str:
    """The ts of the running turn's Stop button, once it shows."""
    shown = await slack.wait_for(
        lambda: stop_buttons(slack, channel, ts), timeout=timeout, what="a Stop button"
    )
    return shown[-1].ts


def finished(slack: SlackEmulator, channel: str, ts: str, count: int = 1) -> bool:
    """At least `count` answers are complete: a bot message carries the New session button."""
    done = [
        m
        for m in bot_messages(slack, channel, ts)
        if "new_session" in str(m.blocks) and m.stream_state != "streaming"
    ]
    return len(done) >= count


async def wait_finished(
    slack: SlackEmulator, channel: str, ts: str, count: int = 1, timeout: float = 30.0
) -> str:
    await slack.wait_for(
        lambda: finished(slack, channel, ts, count), timeout=timeout, what=f"{count} finished answer(s)"
    )
    return bot_text(slack, channel, ts)


async def poll_until(check: Callable[[], Awaitable[bool]], *, timeout: float, every: float = 0.2) -> None:
    """Ask an outside party (an HTTP endpoint) until it says yes; fails after `timeout` seconds.
    For state the emulators do not see change; emulator state is waited on with `wait_for`."""
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(every)
