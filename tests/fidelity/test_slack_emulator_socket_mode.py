"""Socket Mode through the Slack emulator with a real Bolt AsyncApp + AsyncSocketModeHandler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp

from emulators.slack import SlackEmulator
from emulators.slack.testing import bolt_app, socket_mode, web_client


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        emulator.echo_bot_messages = False
        yield emulator


class Recorder:
    """A Bolt app that records what its listeners receive."""

    def __init__(self, slack: SlackEmulator) -> None:
        self.app: AsyncApp = bolt_app(slack)
        self.events: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []

        @self.app.event("app_mention")
        async def on_mention(event: dict[str, Any]) -> None:
            self.events.append(event)

        @self.app.event("message")
        async def on_message(event: dict[str, Any]) -> None:
            self.events.append(event)

        @self.app.command("/claude")
        async def on_command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
            await ack(text=f"Starting a session for: {command['text']}")
            self.commands.append(command)
            await respond("only you can see this")
            await respond(response_type="in_channel", text="Session started")

        @self.app.action("stop")
        async def on_stop(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self.actions.append(body)

    def types(self) -> list[str]:
        return sorted(f"{e['type']}/{e.get('subtype', '')}" for e in self.events)


async def test_mention_reaches_listeners_as_twin_events_and_is_acked(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    async with socket_mode(slack, bot.app):
        ts = await slack.post_message(
            slack.ana, slack.general, "analyse this", mention_bot=True, files=[("d.csv", b"a\n1\n", None)]
        )
        await slack.wait_for(lambda: len(bot.events) == 2)
        await slack.wait_for(lambda: all(e.acked for e in slack.envelopes))
    assert bot.types() == ["app_mention/", "message/file_share"]
    assert {e["ts"] for e in bot.events} == {ts}
    assert len({e.event_id for e in slack.envelopes}) == 2  # twins have different event_ids
    assert len(slack.ack_latencies()) == 2 and max(slack.ack_latencies()) < 1
    hello = slack.connections[0]
    assert hello.frames_sent == 2 and hello.acks_received == 2


async def test_dm_yields_only_a_message_and_other_channels_nothing(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    async with socket_mode(slack, bot.app):
        await slack.post_message(slack.ben, slack.random, "bot is not here", mention_bot=True)
        await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "hi there", mention_bot=True)
        await slack.wait_for(lambda: len(bot.events) == 1)
    assert bot.events[0]["channel_type"] == "im" and bot.events[0]["type"] == "message"
    assert len(slack.envelopes) == 1


async def test_own_messages_are_echoed_and_ignored_by_bolt(slack: SlackEmulator) -> None:
    slack.echo_bot_messages = True
    bot = Recorder(slack)
    async with socket_mode(slack, bot.app):
        await web_client(slack).chat_postMessage(channel=slack.general, text="from the bot")
        await slack.post_message(slack.other_bot_user_id, slack.general, "from another bot", as_bot=True)
        await slack.wait_for(lambda: len(bot.events) == 1 and all(e.acked for e in slack.envelopes))
    assert bot.events[0]["bot_id"] == slack.other_bot_id
    own = slack.events("message")[0].payload["event"]
    assert (own["user"], own["bot_id"], own["app_id"]) == (slack.bot_user_id, slack.bot_id, slack.app_id)


async def test_slash_command_ack_payload_comes_back(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    async with socket_mode(slack, bot.app):
        ack = await slack.run_slash_command(slack.ana, slack.general, "/claude", "plot sales")
    assert ack == {"text": "Starting a session for: plot sales"}
    assert bot.commands[0]["channel_id"] == slack.general and "thread_ts" not in bot.commands[0]
    [envelope] = slack.envelopes
    assert envelope.type == "slash_commands" and envelope.accepts_response_payload
    assert envelope.ack_latency is not None
    await slack.wait_for(lambda: len(slack.channel_view(slack.general, viewer=slack.ana)) == 3)
    # Bolt sends the ack after its 10 ms poll, so respond() may land first: compare as a set
    seen_by_ana = {(m.text, m.ephemeral_to) for m in slack.channel_view(slack.general, viewer=slack.ana)}
    assert seen_by_ana == {
        (ack["text"], slack.ana),
        ("only you can see this", slack.ana),
        ("Session started", None),
    }
    assert [m.text for m in slack.channel_view(slack.general, viewer=slack.ben)] == ["Session started"]
    assert [r.status for r in slack.responses] == [200, 200]


async def test_unacked_slash_command_times_out(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    slack.slash_ack_timeout_s = 0.2
    async with socket_mode(slack, bot.app):
        with pytest.raises(TimeoutError, match="not acknowledged"):
            await slack.run_slash_command(slack.ana, slack.general, "/unknown", "x")


async def test_an_unacked_slash_command_is_never_sent_again(slack: SlackEmulator) -> None:
    # Slack redelivers only Events API envelopes (retry_attempt, retry_reason: slack-platform.md §10.2);
    # a command it could not deliver is an error shown to the person, never a second delivery.
    slack.ack_timeout_s = slack.slash_ack_timeout_s = 0.2
    bot = Recorder(slack)  # no listener for `/unknown` nor `emoji_changed`: neither is acknowledged
    async with socket_mode(slack, bot.app):
        with pytest.raises(TimeoutError, match="not acknowledged"):
            await slack.run_slash_command(slack.ana, slack.general, "/unknown", "x")
        await slack.send_event(
            {"type": "emoji_changed", "subtype": "add", "name": "x", "event_ts": "1.000001"}
        )
        # The event sent after the command is redelivered once its ack is overdue ...
        await slack.wait_for(lambda: any(e.retry_attempt for e in slack.envelopes), timeout=3)
    # ... and the command, overdue for longer, was not.
    assert [e.retry_attempt for e in slack.envelopes if e.type == "slash_commands"] == [0]


async def test_button_press_and_respond(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    root = await slack.post_message(slack.ana, slack.general, "go", mention_bot=True)
    posted = await web_client(slack).chat_postMessage(
        channel=slack.general,
        thread_ts=root,
        text="Running…",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "Running…"}},
            {
                "type": "actions",
                "block_id": "controls",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "stop",
                        "text": {"type": "plain_text", "text": "Stop"},
                        "value": "v1",
                    }
                ],
            },
        ],
    )
    with pytest.raises(LookupError, match="stop"):
        await slack.press_button(slack.ben, slack.general, posted["ts"], "missing")
    async with socket_mode(slack, bot.app):
        await slack.press_button(slack.ben, slack.general, posted["ts"], "stop")
        await slack.wait_for(lambda: bot.actions)
        body = bot.actions[0]
        assert body["actions"][0]["value"] == "v1" and body["actions"][0]["block_id"] == "controls"
        assert body["container"] == {
            "type": "message",
            "message_ts": posted["ts"],
            "channel_id": slack.general,
            "is_ephemeral": False,
            "thread_ts": root,
        }
        assert body["message"]["ts"] == posted["ts"] and body["user"]["id"] == slack.ben
        async with aiohttp.ClientSession() as http:
            replaced = {"replace_original": True, "text": "Stopped by Ben"}
            async with http.post(body["response_url"], json=replaced) as answer:
                assert answer.status == 200
    [reply] = slack.bot_replies(slack.general, root)
    assert reply.text == "Stopped by Ben" and reply.blocks == []  # text without blocks drops the buttons


async def test_disconnect_drill_reconnects_and_events_still_arrive(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    async with socket_mode(slack, bot.app):
        await slack.disconnect("refresh_requested")
        await slack.wait_for(lambda: len(slack.connections) == 2 and len(slack.open_connections) == 1)
        assert slack.connections[0].disconnect_reason == "refresh_requested"
        await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "still there?")
        await slack.wait_for(lambda: bot.events)
        assert len(slack.calls_to("apps.connections.open")) == 2
        await slack.disconnect("warning")
        await slack.wait_for(lambda: len(slack.connections) == 3 and len(slack.open_connections) == 1)
        await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "and now?")
        await slack.wait_for(lambda: len(bot.events) == 2)
    assert slack.envelopes[-1].connection_id == slack.connections[-1].id


async def test_unacked_envelope_is_redelivered_with_retry_attempt(slack: SlackEmulator) -> None:
    slack.ack_timeout_s = 0.2
    bot = Recorder(slack)  # no listener for `emoji_changed` -> Bolt answers 404 -> no ack (§0 fact 2)
    async with socket_mode(slack, bot.app):
        first = await slack.send_event(
            {"type": "emoji_changed", "subtype": "add", "name": "x", "event_ts": "1.000001"}
        )
        await slack.wait_for(lambda: len(slack.envelopes) == 2, timeout=3)
    retry = slack.envelopes[1]
    assert not first.acked and first.redelivered_as == retry.envelope_id
    assert (retry.retry_attempt, retry.retry_reason) == (1, "timeout")
    assert retry.event_id == first.event_id and retry.envelope_id != first.envelope_id


async def test_two_connections_share_envelopes(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    dm = slack.dm_channel(slack.ana)
    async with socket_mode(slack, bot.app), socket_mode(slack, bot.app):
        assert len(slack.open_connections) == 2
        for i in range(6):
            await slack.post_message(slack.ana, dm, f"m{i}")
        await slack.wait_for(lambda: len(bot.events) == 6 and all(e.acked for e in slack.envelopes))
    assert sorted(e["text"] for e in bot.events) == [f"m{i}" for i in range(6)]
    per_connection = {c.id: c.frames_sent for c in slack.connections}
    assert sorted(per_connection.values()) == [3, 3]
    assert len(slack.envelopes) == 6  # each envelope went to exactly one connection


async def test_events_queue_while_disconnected_and_duplicates_drill(slack: SlackEmulator) -> None:
    bot = Recorder(slack)
    dm = slack.dm_channel(slack.ana)
    await slack.post_message(slack.ana, dm, "sent while offline")
    assert len(slack.pending_envelopes) == 1
    slack.deliver_twice_every(2)
    async with socket_mode(slack, bot.app):
        await slack.wait_for(lambda: bot.events)
        await slack.post_message(slack.ana, dm, "second")
        await slack.wait_for(lambda: len(bot.events) == 3)
    texts = [e["text"] for e in bot.events]
    assert texts.count("second") == 2  # delivered twice, same event_id: the app must dedupe
    second = [e for e in slack.envelopes if e.payload["event"]["text"] == "second"]
    assert [e.retry_attempt for e in second] == [0, 1] and second[0].event_id == second[1].event_id


async def test_wire_frames_match_fixtures(slack: SlackEmulator) -> None:
    """Raw frames (hello, envelope, disconnect, too_many_websockets) have the fixtures' keys."""
    fixtures = "tests/fixtures/slack/socket_mode/"

    def keys(name: str) -> set[str]:
        with open(fixtures + name) as handle:
            return set(json.load(handle))

    slack.disconnect_grace_s = 0.05
    url = (await web_client(slack, slack.app_token).apps_connections_open(app_token=slack.app_token))["url"]
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(url) for _ in range(10)]
        hello = json.loads((await sockets[0].receive()).data)
        assert set(hello) == keys("hello.json") and hello["type"] == "hello"
        for ws in sockets[1:]:
            await ws.receive()
        eleventh = await http.ws_connect(url)
        refused = json.loads((await eleventh.receive()).data)
        assert set(refused) == keys("disconnect_too_many_websockets.json")
        assert refused["reason"] == "too_many_websockets"
        await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "x")
        frame = json.loads((await sockets[0].receive()).data)
        assert set(frame) == keys("envelope_events_api.json")
        await sockets[0].send_str(json.dumps({"envelope_id": frame["envelope_id"]}))
        await slack.wait_for(lambda: slack.envelopes[0].acked)
        await slack.disconnect("warning", slack.open_connections[1].id)
        bye = json.loads((await sockets[1].receive()).data)
        assert set(bye) == keys("disconnect_warning.json") and bye["reason"] == "warning"
        for ws in sockets:
            await ws.close()


async def test_messages_tab_and_suggested_prompts(slack: SlackEmulator) -> None:
    slack.subscriptions.add("app_home_opened")  # an app that chose to subscribe (the product does not)
    bot = Recorder(slack)

    @bot.app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: Any) -> None:
        if event["tab"] == "messages":
            prompts = [{"title": "Run a snippet", "message": "Run this: print(sum(range(10)))"}]
            await client.assistant_threads_setSuggestedPrompts(channel_id=event["channel"], prompts=prompts)

    async with socket_mode(slack, bot.app):
        await slack.open_messages_tab(slack.ana)
        dm = slack.dm_channel(slack.ana)
        shown = await slack.wait_for(lambda: slack.suggested_prompts(dm))
    assert shown is not None and shown["prompts"][0]["title"] == "Run a snippet"


async def test_acks_are_read_while_a_burst_is_being_sent(slack: SlackEmulator) -> None:
    """An ack is stamped when it arrives, not when the emulator is done sending a burst: the
    benchmarks' ack latency would otherwise count the emulator's own sending as the app's."""
    url = (await web_client(slack, slack.app_token).apps_connections_open(app_token=slack.app_token))["url"]
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url)
        await ws.receive()  # hello

        async def ack_the_first() -> None:
            frame = json.loads((await ws.receive()).data)
            await ws.send_str(json.dumps({"envelope_id": frame["envelope_id"]}))

        acking = asyncio.create_task(ack_the_first())
        await asyncio.gather(
            *(slack.post_message(slack.ana, slack.dm_channel(slack.ana), f"m{i}") for i in range(100))
        )
        await acking
        first = slack.envelopes[0]
        await slack.wait_for(lambda: first.acked)
        last_sent = max(e.sent_at or 0 for e in slack.envelopes)
        assert len(slack.envelopes) == 100
        assert first.acked_at is not None and first.acked_at < last_sent
        await ws.close()
