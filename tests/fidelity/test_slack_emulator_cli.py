"""The standalone emulator (`python -m emulators.slack`), its control endpoints, and isolation."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def standalone() -> AsyncIterator[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators.slack",
        "--port",
        "0",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    printed: dict[str, str] = {}
    async with asyncio.timeout(10):
        while "control" not in printed:
            line = (await process.stdout.readline()).decode()
            assert line, "the emulator exited before printing its settings"
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                printed[key] = value
            elif line.startswith("control endpoints: "):
                printed["control"] = line.removeprefix("control endpoints: ").strip()
    yield printed
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await process.wait() == 0


async def test_cli_prints_settings_and_serves_control_endpoints(standalone: dict[str, str]) -> None:
    api_url = standalone["SLACK_API_URL"]
    assert standalone["SLACK_BOT_TOKEN"].startswith("xoxb-") and standalone["SLACK_APP_TOKEN"].startswith(
        "xapp-"
    )
    base = api_url.removesuffix("api/")
    async with aiohttp.ClientSession() as http:
        async with http.get(standalone["control"]) as info:
            assert (await info.json())["channels"]["general"] == "C0123ABCD"
        body = {"user": "ana", "channel": "general", "text": "hello", "mention_bot": True}
        async with http.post(base + "_emulator/message", json=body) as posted:
            ts = (await posted.json())["ts"]
        headers = {"Authorization": f"Bearer {standalone['SLACK_BOT_TOKEN']}"}
        reply = {"channel": "C0123ABCD", "thread_ts": ts, "text": "hi Ana"}
        async with http.post(api_url + "chat.postMessage", json=reply, headers=headers) as answer:
            assert (await answer.json())["ok"]
        async with http.get(base + "_emulator/thread", params={"channel": "general", "ts": ts}) as thread:
            texts = [m["text"] for m in (await thread.json())["messages"]]
        assert texts == ["<@U0BOT1234> hello", "hi Ana"]
        async with http.get(base + "_emulator/calls", params={"method": "chat.postMessage"}) as calls:
            assert len((await calls.json())["calls"]) == 1
        guest = {"name": "gail", "guest": "single", "channels": ["general"]}
        async with http.post(base + "_emulator/user", json=guest) as made:
            gail = (await made.json())["id"]
        async with http.post(api_url + "users.info", data={"user": gail}, headers=headers) as info:
            assert (await info.json())["user"]["is_ultra_restricted"] is True
        async with http.post(
            base + "_emulator/usergroup", json={"handle": "data", "members": ["ana"]}
        ) as made:
            group = (await made.json())["id"]
        async with http.post(
            api_url + "usergroups.users.list", data={"usergroup": group}, headers=headers
        ) as ug:
            assert (await ug.json())["users"] == ["U0123ABCD"]
        view = {"user_id": "U0123ABCD", "view": {"type": "home", "blocks": [{"type": "divider"}]}}
        async with http.post(api_url + "views.publish", json=view, headers=headers) as published:
            assert (await published.json())["ok"]
        async with http.post(base + "_emulator/home", json={"user": "ana"}) as opened:
            assert (await opened.json())["ok"]
        async with http.get(base + "_emulator/home", params={"user": "ana"}) as home:
            assert (await home.json())["home"]["blocks"][0]["type"] == "divider"


async def test_several_emulators_are_independent() -> None:
    async with SlackEmulator() as one, SlackEmulator() as two:
        assert one.port != two.port and one.bot_token != two.bot_token
        await web_client(one).chat_postMessage(channel=one.general, text="only in one")
        assert len(one.channel_view(one.general)) == 1 and two.channel_view(two.general) == []
        with pytest.raises(SlackApiError, match="invalid_auth"):
            await web_client(two, one.bot_token).auth_test()
