"""The chaos plans' faults, as the official clients see them: each has the shape the real platform
gives it (emulators/README.md, "Chaos plans", cites the sources)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from emulators.anthropic import AnthropicEmulator, Delay, Say
from emulators.anthropic.chaos import AnthropicChaos, AnthropicChaosPlan
from emulators.anthropic.testing import MODEL, client
from emulators.slack import SlackEmulator
from emulators.slack.chaos import SlackChaos, SlackChaosPlan
from emulators.slack.testing import socket_mode, web_client
from tests.fidelity.test_slack_emulator_socket_mode import Recorder

NEVER = 0.0
ALWAYS = 1.0


@pytest.fixture
async def quiet_slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        emulator.echo_bot_messages = False
        yield emulator


def slack_chaos(slack: SlackEmulator, **plan: Any) -> SlackChaos:
    defaults: dict[str, Any] = {"duplicate_rate": NEVER, "write_429_rate": NEVER, "write_5xx_rate": NEVER}
    chaos = SlackChaos(slack, SlackChaosPlan(**{**defaults, **plan}))
    chaos.install()
    return chaos


async def test_a_write_answered_429_carries_retry_after_and_the_sdk_handler_gets_through(
    quiet_slack: SlackEmulator,
) -> None:
    chaos = slack_chaos(quiet_slack, write_429_rate=ALWAYS)
    web = web_client(quiet_slack)
    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel=quiet_slack.general, text="hello")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert raised.value.response["error"] == "ratelimited"
    assert chaos.counts["slack_429"] == 1
    # Reads are never failed; with the SDK's handler a write goes through once the plan relents.
    assert (await web.conversations_info(channel=quiet_slack.general))["ok"]
    web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    chaos.enabled = False
    assert (await web.chat_postMessage(channel=quiet_slack.general, text="hello"))["ok"]


async def test_a_write_answered_5xx_was_not_performed(quiet_slack: SlackEmulator) -> None:
    chaos = slack_chaos(quiet_slack, write_5xx_rate=ALWAYS)
    web = web_client(quiet_slack)
    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel=quiet_slack.general, text="hello")
    assert raised.value.response.status_code in (500, 503)
    assert raised.value.response["error"] in ("internal_error", "service_unavailable")
    assert quiet_slack.channel_view(quiet_slack.general) == []
    assert chaos.counts["slack_500"] + chaos.counts["slack_503"] == 1


async def test_a_duplicate_is_a_redelivery_of_the_same_event(quiet_slack: SlackEmulator) -> None:
    slack_chaos(quiet_slack, duplicate_rate=ALWAYS, duplicate_max_delay_s=0.05)
    bot = Recorder(quiet_slack)
    async with socket_mode(quiet_slack, bot.app):
        await quiet_slack.post_message(quiet_slack.ana, quiet_slack.dm_channel(quiet_slack.ana), "once")
        await quiet_slack.wait_for(lambda: len(bot.events) == 2)
    first, again = quiet_slack.envelopes
    assert again.event_id == first.event_id and again.envelope_id != first.envelope_id
    assert (first.retry_attempt, again.retry_attempt, again.retry_reason) == (0, 1, "timeout")


async def test_slack_side_closes_are_followed_by_a_reconnect_and_unacked_events_come_back(
    quiet_slack: SlackEmulator,
) -> None:
    quiet_slack.ack_timeout_s = 0.3
    quiet_slack.disconnect_grace_s = 0.1
    chaos = slack_chaos(quiet_slack)
    bot = Recorder(quiet_slack)
    dm = quiet_slack.dm_channel(quiet_slack.ana)
    async with socket_mode(quiet_slack, bot.app):
        for n in range(6):  # every kind of close is drawn within a few, with this seed
            before = len(quiet_slack.connections)
            assert await chaos.disconnect_one() is not None

            def reconnected(before: int = before) -> bool:
                return len(quiet_slack.connections) == before + 1 and len(quiet_slack.open_connections) == 1

            await quiet_slack.wait_for(reconnected, timeout=10)
            await quiet_slack.post_message(quiet_slack.ana, dm, f"after close {n}")
        await quiet_slack.wait_for(
            lambda: {e["text"] for e in bot.events} >= {f"after close {n}" for n in range(6)}
        )
    kinds = {k for k in chaos.counts if k.startswith("socket_")}
    assert "socket_closed_abruptly" in kinds and kinds - {"socket_closed_abruptly"}
    assert {c.disconnect_reason for c in quiet_slack.connections[:-1]} <= {
        "closed",
        "refresh_requested",
        "warning",
    }


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("anthropic_429", anthropic.RateLimitError),
        ("anthropic_529", anthropic.OverloadedError),
        ("anthropic_500", anthropic.InternalServerError),
    ],
)
async def test_an_anthropic_failure_before_the_response(
    emu: AnthropicEmulator, kind: str, error: type[Exception]
) -> None:
    emu.model = lambda req: [Say("ok")]
    chaos = AnthropicChaos(emu, AnthropicChaosPlan())
    chaos.install()
    chaos.queue(kind)
    with pytest.raises(error) as raised:
        await client(emu).messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert isinstance(raised.value, anthropic.APIStatusError)
    if kind == "anthropic_429":
        assert raised.value.response.headers["retry-after"] == "1"
        assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert chaos.counts[kind] == 1


async def read_stream(emu: AnthropicEmulator, texts: list[str]) -> None:
    async with client(emu).messages.stream(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        async for text in stream.text_stream:
            texts.append(text)


async def test_a_stream_cut_mid_response_ends_with_an_error_event(emu: AnthropicEmulator) -> None:
    emu.model = lambda req: [Say("part one"), Delay(1), Say(" part two")]
    chaos = AnthropicChaos(emu, AnthropicChaosPlan(cut_after_s=(0.2, 0.2)))
    chaos.install()
    chaos.queue("anthropic_stream_error")
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        await read_stream(emu, texts)
    assert "".join(texts) == "part one"  # what was sent stays sent; no message_stop came
    assert raised.value.body["error"]["type"] in ("overloaded_error", "api_error")  # type: ignore[index]


async def test_a_connection_reset_mid_response(emu: AnthropicEmulator) -> None:
    emu.model = lambda req: [Say("part one"), Delay(1), Say(" part two")]
    chaos = AnthropicChaos(emu, AnthropicChaosPlan(cut_after_s=(0.2, 0.2)))
    chaos.install()
    chaos.queue("anthropic_reset")
    texts: list[str] = []
    with pytest.raises(anthropic.APIConnectionError):
        await read_stream(emu, texts)
    assert "".join(texts) == "part one"
    # No status and no error event: the SDK sees the connection end (and would retry a request that
    # had not started; the bot does not re-ask one that had).
