"""The page's server side without a browser: what the websocket pushes and what a person's actions
become in the Slack emulator (events, files, button presses, slash commands, the Home tab), with a
real Bolt app on the other side answering as the bot would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp

from emulators.slack import SlackEmulator
from emulators.slack.testing import bolt_app, socket_mode
from playground.web import PlaygroundWeb

State = dict[str, Any]
ANA, BEN = "U0123ABCD", "U0234BCDE"
BACKEND = {"emulated": True, "name": "Anthropic emulator", "detail": "d"}


SETTINGS = {
    "type": "modal",
    "callback_id": "settings",
    "notify_on_close": True,
    "title": {"type": "plain_text", "text": "Channel assistant"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "tone",
            "label": {"type": "plain_text", "text": "Tone"},
            "element": {
                "type": "radio_buttons",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": t}, "value": t} for t in ("calm", "loud")
                ],
            },
        }
    ],
}


def answering_app(slack: SlackEmulator) -> AsyncApp:
    app = bolt_app(slack)

    @app.event("app_mention")
    async def mention(event: dict[str, Any], client: Any) -> None:
        await client.chat_postMessage(
            channel=event["channel"],
            thread_ts=event["ts"],
            text="Here is a button",
            blocks=[
                {"type": "markdown", "text": "Here is a **button**"},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "again",
                            "value": "v1",
                            "text": {"type": "plain_text", "text": "Again"},
                        }
                    ],
                },
            ],
        )

    @app.event("message")
    async def message() -> None:
        pass

    @app.action("again")
    async def again(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        await client.chat_postMessage(
            channel=body["channel"]["id"],
            thread_ts=body["message"]["thread_ts"],
            text=f"pressed by <@{body['user']['id']}> with {body['actions'][0]['value']}",
        )

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any], client: Any) -> None:
        if command["text"] != "config":
            await ack(f"help for {command['text']}")
            return
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=SETTINGS)

    @app.view("settings")
    async def settings(ack: Any, view: dict[str, Any]) -> None:
        tone = view["state"]["values"]["tone"]["pick"]["selected_option"]["value"]
        if tone == "loud":
            await ack(response_action="errors", errors={"tone": "Not in this channel"})
        else:
            await ack()

    @app.view_closed("settings")
    async def cancelled(ack: Any) -> None:
        await ack()

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: Any) -> None:
        if event["tab"] == "home":
            await client.views_publish(
                user_id=event["user"],
                view={
                    "type": "home",
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your usage"}}],
                },
            )

    return app


class Page:
    """One browser tab's websocket, read as the page reads it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.state: State = {}
        self.notes: list[dict[str, Any]] = []

    async def send(self, **command: Any) -> None:
        await self.ws.send_json(command)

    async def until(self, predicate: Callable[[State], Any], timeout: float = 10.0) -> State:
        async def read() -> State:
            while not (self.state and predicate(self.state)):
                frame = await self.ws.receive()
                assert frame.type == aiohttp.WSMsgType.TEXT, frame
                data = json.loads(frame.data)
                if data["type"] == "state":
                    self.state = data
                else:
                    self.notes.append(data)
            return self.state

        return await asyncio.wait_for(read(), timeout)

    async def note(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            while not any(n["type"] == kind for n in self.notes):
                frame = await self.ws.receive()
                data = json.loads(frame.data)
                if data["type"] == "state":
                    self.state = data
                else:
                    self.notes.append(data)
            return next(n for n in self.notes if n["type"] == kind)

        return await asyncio.wait_for(read(), timeout)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[SlackEmulator, aiohttp.ClientSession]]:
    page: PlaygroundWeb | None = None
    slack = SlackEmulator(mount=lambda app: page.mount(app) if page is not None else None)
    page = PlaygroundWeb(
        slack,
        tmp_path,
        admins={ANA},
        backend=BACKEND,
        bot=lambda: {"state": "ready", "exit_code": None, "log": []},
    )
    async with slack, socket_mode(slack, answering_app(slack)), aiohttp.ClientSession(slack.base_url) as http:
        yield slack, http


async def open_page(http: aiohttp.ClientSession) -> Page:
    return Page(await http.ws_connect("/playground/ws"))


async def test_the_page_and_its_first_state(served: tuple[SlackEmulator, aiohttp.ClientSession]) -> None:
    _, http = served
    async with http.get("/") as response:
        assert response.status == 200 and "playground.js" in await response.text()
    async with http.get("/playground/static/playground.js") as response:
        assert response.status == 200
    page = await open_page(http)
    state = await page.until(lambda s: True)
    assert state["me"] == ANA
    assert [(p["real_name"], p["admin"]) for p in state["people"]] == [
        ("Ana Lima", True),
        ("Ben Okafor", False),
        ("Chloé Martin", False),
    ]
    assert {c["name"] for c in state["channels"]} >= {"general", "random"}
    assert state["backend"] == BACKEND and state["bot"]["state"] == "ready"
    assert state["names"][slack_bot_id()] == "claude"


def slack_bot_id() -> str:
    return SlackEmulator.bot_user_id


async def test_a_message_with_a_file_a_reply_and_a_button(
    served: tuple[SlackEmulator, aiohttp.ClientSession],
) -> None:
    slack, http = served
    form = aiohttp.FormData()
    form.add_field("file", b"a,b\n1,2\n", filename="data.csv", content_type="text/csv")
    async with http.post("/playground/upload", data=form) as response:
        upload = await response.json()
    assert upload["name"] == "data.csv" and upload["size"] == 8

    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="post", text="@claude look at this", thread=None, uploads=[upload["id"]])
    posted = await page.note("posted")
    assert posted["asks_app"] is True

    # Slack's events: the mention, with the file as Slack hosts it.
    mention = await slack.wait_for(lambda: slack.events("app_mention"))
    event = mention[0].payload["event"]
    assert event["text"] == f"<@{slack.bot_user_id}> look at this"
    assert event["files"][0]["name"] == "data.csv"

    await page.send(op="view", thread=posted["ts"])
    state = await page.until(lambda s: s["thread"] and len(s["thread"]["messages"]) == 2)
    root, reply = state["thread"]["messages"]
    assert root["user_name"] == "Ana Lima" and root["files"][0]["name"] == "data.csv"
    async with http.get(root["files"][0]["url"]) as response:
        assert await response.read() == b"a,b\n1,2\n"
        assert response.headers["Content-Type"] == "text/csv"
    assert reply["user_name"] == "claude" and reply["is_bot"]
    assert reply["blocks"][0] == {
        "type": "markdown",
        "text": "Here is a **button**",
        "block_id": reply["blocks"][0]["block_id"],
    }

    # The button, pressed as Ben: Bolt gets block_actions from him, with the button's value.
    await page.send(op="view", user=BEN)
    await page.until(lambda s: s["me"] == BEN)
    await page.send(op="press", ts=reply["ts"], action_id="again", value="v1")
    state = await page.until(lambda s: s["thread"] and len(s["thread"]["messages"]) == 3)
    assert state["thread"]["messages"][2]["text"] == f"pressed by <@{BEN}> with v1"
    # Ben still sees the thread he was in; the uploaded file went to Slack, not left behind.
    assert state["view"]["thread"] == posted["ts"]


async def test_slash_commands_are_answered_only_to_their_author(
    served: tuple[SlackEmulator, aiohttp.ClientSession],
) -> None:
    _, http = served
    ana, ben = await open_page(http), await open_page(http)
    await ana.until(lambda s: True)
    await ben.send(op="view", user=BEN)
    await ben.until(lambda s: s["me"] == BEN)
    await ana.send(op="post", text="/claude help", thread=None, uploads=[])
    state = await ana.until(lambda s: s["messages"])
    assert state["messages"][0]["text"] == "help for help" and state["messages"][0]["ephemeral"]
    await ben.until(lambda s: True)
    assert ben.state["messages"] == []

    await ana.send(op="post", text="/claude help", thread="1.000", uploads=[])
    assert "cannot be used in a thread" in (await ana.note("error"))["message"]
    await ana.send(op="post", text="/giphy cats", thread=None, uploads=[])
    ana.notes.clear()
    assert "not a valid command" in (await ana.note("error"))["message"]


async def test_the_home_tab(served: tuple[SlackEmulator, aiohttp.ClientSession]) -> None:
    slack, http = served
    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="view", tab="home")
    state = await page.until(lambda s: s["home"])
    assert state["view"]["tab"] == "home"
    assert state["home"]["blocks"][0]["text"]["text"] == "Your usage"
    assert slack.events("app_home_opened")[0].payload["event"]["user"] == ANA


async def test_a_dm_with_the_app(served: tuple[SlackEmulator, aiohttp.ClientSession]) -> None:
    slack, http = served
    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="view", channel="dm")
    state = await page.until(lambda s: s["view"]["channel"].startswith("D"))
    assert state["view"]["channel"] == slack.dm_channel("ana")
    assert any(c["kind"] == "im" for c in state["channels"])
    opened = await slack.wait_for(lambda: slack.events("app_home_opened"))
    assert opened[0].payload["event"]["tab"] == "messages"


async def test_nobody_reads_someone_elses_dm(served: tuple[SlackEmulator, aiohttp.ClientSession]) -> None:
    slack, http = served
    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="view", channel="dm")
    await page.until(lambda s: s["view"]["channel"] == slack.dm_channel("ana"))
    await page.send(op="post", text="just for the app", thread=None, uploads=[])
    assert (await page.note("posted"))["asks_app"] is True
    await page.until(lambda s: s["messages"])
    await page.send(op="view", user=BEN)
    state = await page.until(lambda s: s["me"] == BEN)
    assert state["view"]["channel"] == slack.dm_channel("ben") and state["messages"] == []
    # Asking for Ana's DM by its id changes nothing: Ben's next message goes to his own.
    await page.send(op="view", channel=slack.dm_channel("ana"))
    await page.send(op="post", text="from Ben", thread=None, uploads=[])
    state = await page.until(lambda s: s["messages"])
    assert state["view"]["channel"] == slack.dm_channel("ben")
    assert [m.text for m in slack.channel_view(slack.dm_channel("ana"))] == ["just for the app"]


async def test_editing_and_deleting_ones_own_message(
    served: tuple[SlackEmulator, aiohttp.ClientSession],
) -> None:
    slack, http = served
    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="post", text="first words", thread=None, uploads=[])
    ts = (await page.note("posted"))["ts"]
    await page.send(op="edit", ts=ts, text="better words for @claude")
    state = await page.until(lambda s: s["messages"] and s["messages"][0]["edited"])
    assert state["messages"][0]["text"] == f"better words for <@{slack.bot_user_id}>"
    changed = await slack.wait_for(lambda: slack.events("message"))
    assert any(e.payload["event"].get("subtype") == "message_changed" for e in changed)

    # Only one's own: Ben can neither edit nor delete it.
    await page.send(op="view", user=BEN)
    await page.send(op="delete", ts=ts)
    assert "cannot edit or delete" in (await page.note("error"))["message"]
    await page.send(op="view", user=ANA)
    await page.send(op="delete", ts=ts)
    await page.until(lambda s: s["me"] == ANA and s["messages"] == [])


async def test_a_modal_the_app_opens_is_filled_in_and_submitted(
    served: tuple[SlackEmulator, aiohttp.ClientSession],
) -> None:
    slack, http = served
    page = await open_page(http)
    await page.until(lambda s: True)
    await page.send(op="post", text="/claude config", thread=None, uploads=[])
    state = await page.until(lambda s: s["modal"])
    assert state["modal"]["title"]["text"] == "Channel assistant" and state["modal"]["errors"] == {}
    await page.send(op="modal_submit", values={"tone": None})  # required: Slack's client refuses
    assert "required" in (await page.note("error"))["message"]
    await page.send(op="modal_submit", values={"tone": "loud"})
    state = await page.until(lambda s: s["modal"] and s["modal"]["errors"])
    assert state["modal"]["errors"] == {"tone": "Not in this channel"}
    await page.send(op="modal_submit", values={"tone": "calm"})
    await page.until(lambda s: s["modal"] is None)
    submitted = slack.view_submissions[-1]["view"]
    assert submitted["state"]["values"]["tone"]["pick"]["selected_option"]["value"] == "calm"

    await page.send(op="post", text="/claude config", thread=None, uploads=[])
    await page.until(lambda s: s["modal"])
    await page.send(op="modal_close")
    await page.until(lambda s: s["modal"] is None)
    # The app was told (view_closed, as the view asked), and acknowledged it.
    assert [e.payload["type"] for e in slack.envelopes if e.type == "interactive"][-1] == "view_closed"
