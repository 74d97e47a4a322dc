"""HTTP delivery from the Slack emulator: signed POSTs to a real Bolt `app.web_app()`, and retries."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulators.slack import SlackEmulator
from emulators.slack.testing import bolt_app, http_app, web_client


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        emulator.echo_bot_messages = False
        yield emulator


async def test_events_commands_and_actions_reach_bolt_over_http(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    seen: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        seen.append("app_mention")

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        seen.append("message")

    @app.command("/claude")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack(f"ok: {command['text']}")

    @app.action("again")
    async def on_action(ack: Any) -> None:
        await ack()
        seen.append("action")

    async with http_app(app) as url:
        assert await slack.verify_url(url)
        slack.deliver_http(url)
        await slack.post_message(slack.ana, slack.general, "over http", mention_bot=True)
        await slack.wait_for(lambda: sorted(seen) == ["app_mention", "message"])
        assert await slack.run_slash_command(slack.ana, slack.general, "/claude", "hello") == {
            "text": "ok: hello"
        }
        button = {"type": "button", "action_id": "again", "text": {"type": "plain_text", "text": "Again"}}
        posted = await web_client(slack).chat_postMessage(
            channel=slack.general, text="Run again?", blocks=[{"type": "actions", "elements": [button]}]
        )
        await slack.press_button(slack.ana, slack.general, posted["ts"], "again")
        await slack.wait_for(lambda: "action" in seen)
    assert all(e.transport == "http" and e.http_status == 200 for e in slack.envelopes)


async def test_bolt_rejects_a_tampered_signature(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    async with http_app(app) as url, aiohttp.ClientSession() as http:
        body = json.dumps({"token": "t", "challenge": "c", "type": "url_verification"})
        headers = {"Content-Type": "application/json", **slack.sign(body)}
        async with http.post(url, data=body, headers=headers) as good:
            assert good.status == 200 and (await good.json())["challenge"] == "c"
        tampered = {**headers, "X-Slack-Signature": headers["X-Slack-Signature"][:-4] + "0000"}
        async with http.post(url, data=body, headers=tampered) as bad:
            assert bad.status == 401
        stale = {"Content-Type": "application/json", **slack.sign(body, int(time.time()) - 301)}
        async with http.post(url, data=body, headers=stale) as old:
            assert old.status == 401


class FlakyEndpoint:
    """An app endpoint that fails the first deliveries (HTTP 500, then a hang past the timeout)."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.seen: list[dict[str, str]] = []
        self.never = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append({k: v for k, v in request.headers.items() if k.lower().startswith("x-slack")})
        action = self.script.pop(0) if self.script else "ok"
        if action == "500":
            return web.Response(status=500)
        if action == "hang":
            await self.never.wait()
        if action == "no-retry":
            return web.Response(status=500, headers={"X-Slack-No-Retry": "1"})
        return web.Response(status=200)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyEndpoint, str]]:
    endpoint = FlakyEndpoint([])
    app = web.Application()
    app.router.add_post("/slack/events", endpoint.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    yield endpoint, f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
    endpoint.never.set()
    await runner.cleanup()


async def test_failed_deliveries_are_retried_with_slack_headers(
    slack: SlackEmulator, flaky: tuple[FlakyEndpoint, str]
) -> None:
    endpoint, url = flaky
    endpoint.script = ["500", "hang"]
    slack.http_timeout_s = 0.2
    slack.http_retry_delays = (0.0, 0.0, 0.0)
    slack.deliver_http(url)
    await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "retry me")
    await slack.wait_for(lambda: any(e.acked for e in slack.envelopes), timeout=5)
    assert [e.retry_attempt for e in slack.envelopes] == [0, 1, 2]
    assert [e.http_status for e in slack.envelopes] == [500, None, 200]
    assert endpoint.seen[0].get("X-Slack-Retry-Num") is None
    assert (endpoint.seen[1]["X-Slack-Retry-Num"], endpoint.seen[1]["X-Slack-Retry-Reason"]) == (
        "1",
        "http_error",
    )
    assert (endpoint.seen[2]["X-Slack-Retry-Num"], endpoint.seen[2]["X-Slack-Retry-Reason"]) == (
        "2",
        "http_timeout",
    )
    assert all("X-Slack-Signature" in h for h in endpoint.seen)


async def test_no_retry_header_stops_retries(slack: SlackEmulator, flaky: tuple[FlakyEndpoint, str]) -> None:
    endpoint, url = flaky
    endpoint.script = ["no-retry"]
    slack.deliver_http(url)
    await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "once")
    await slack.wait_for(lambda: slack.envelopes and slack.envelopes[0].http_status == 500)
    assert len(endpoint.seen) == 1 and len(slack.envelopes) == 1


async def test_a_failed_slash_command_is_never_sent_again(
    slack: SlackEmulator, flaky: tuple[FlakyEndpoint, str]
) -> None:
    # Only Events API deliveries are retried (api.slack.com/apis/events-api#retries); a command that
    # fails is shown to the person as an error, and Slack does not send it again.
    endpoint, url = flaky
    endpoint.script = ["500", "500"]
    slack.http_retry_delays = (0.0, 0.0, 0.0)
    slack.slash_ack_timeout_s = 0.5
    slack.deliver_http(url)
    with pytest.raises(TimeoutError, match="not acknowledged"):
        await slack.run_slash_command(slack.ana, slack.general, "/claude", "x")
    await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "an event, failed once then retried")
    await slack.wait_for(lambda: any(e.acked for e in slack.envelopes), timeout=5)
    assert [(e.type, e.retry_attempt, e.http_status) for e in slack.envelopes] == [
        ("slash_commands", 0, 500),
        ("events_api", 0, 500),
        ("events_api", 1, 200),
    ]
