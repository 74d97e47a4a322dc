"""Modals: views.open / views.update through the real SDK and a real Bolt app over Socket Mode, trigger
ids (single use, 3 s), the view checks, and a person submitting or cancelling (emulators/slack/modals.py)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from emulators.slack import SlackEmulator, modals
from emulators.slack.modal_check import modal_error
from emulators.slack.testing import bolt_app, socket_mode, web_client


def modal(**overrides: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "settings",
        "private_metadata": "C1",
        "title": {"type": "plain_text", "text": "Channel settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "notify_on_close": True,
        "blocks": [
            {
                "type": "input",
                "block_id": "persona",
                "label": {"type": "plain_text", "text": "Persona"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "initial_value": "be terse",
                },
            },
            {
                "type": "input",
                "block_id": "model",
                "label": {"type": "plain_text", "text": "Model"},
                "element": {
                    "type": "static_select",
                    "action_id": "pick",
                    "options": [
                        {"text": {"type": "plain_text", "text": m}, "value": m} for m in ("small", "large")
                    ],
                    "initial_option": {"text": {"type": "plain_text", "text": "small"}, "value": "small"},
                },
            },
            {
                "type": "input",
                "block_id": "tools",
                "optional": True,
                "label": {"type": "plain_text", "text": "Tools"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "on",
                    "options": [
                        {"text": {"type": "plain_text", "text": t}, "value": t} for t in ("web", "fetch")
                    ],
                },
            },
        ],
    }
    view.update(overrides)
    return view


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"type": "home"}, "/view/type"),
        ({"title": {"type": "plain_text", "text": "x" * 25}}, "/view/title/text"),
        ({"title": None}, "missing required field: title"),
        ({"submit": {"type": "mrkdwn", "text": "Save"}}, "/view/submit"),
        ({"submit": None}, "missing required field: submit"),
        ({"close": {"type": "plain_text", "text": "c" * 25}}, "/view/close/text"),
        ({"private_metadata": "m" * 3001}, "/view/private_metadata"),
        ({"callback_id": "c" * 256}, "/view/callback_id"),
        ({"blocks": [{"type": "divider"}] * 101}, "/view/blocks"),
    ],
)
def test_modal_checks(change: dict[str, Any], problem: str | None) -> None:
    view = {k: v for k, v in {**modal(), **change}.items() if v is not None}
    found = modal_error(view)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"label": None}, "label"),
        ({"element": {"type": "plain_text_input"}}, "action_id"),
        ({"element": {"type": "static_select", "action_id": "a", "options": []}}, "options"),
        ({"label": {"type": "plain_text", "text": "l" * 2001}}, "/label/text"),
        (
            {
                "element": {
                    "type": "static_select",
                    "action_id": "a",
                    "options": [{"text": {"type": "plain_text", "text": "o" * 76}, "value": "v"}],
                }
            },
            "/options/0/text/text",
        ),
        (
            {
                "element": {
                    "type": "checkboxes",
                    "action_id": "a",
                    "options": [{"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}],
                }
            },
            "/options/0/value",
        ),
    ],
)
def test_input_block_checks(block: dict[str, Any], problem: str) -> None:
    base = dict(modal()["blocks"][0])
    base.update(block)
    view = modal(blocks=[{k: v for k, v in base.items() if v is not None}])
    found = modal_error(view)
    assert found is not None and problem in found


async def test_a_command_opens_a_modal_and_a_submission_carries_its_state(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    seen: list[dict[str, Any]] = []

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=modal())

    @app.view("settings")
    async def submitted(ack: Any, body: dict[str, Any]) -> None:
        seen.append(body)
        await ack()

    async with socket_mode(slack, app):
        await slack.run_slash_command(slack.ana, slack.general, "/claude", "config")
        await slack.wait_for(lambda: slack.modal(slack.ana) is not None, what="the modal")
        shown = slack.modal(slack.ana)
        assert shown is not None and shown.title == "Channel settings" and shown.private_metadata == "C1"
        with pytest.raises(LookupError):
            await slack.submit_modal(slack.ana, {"model": "huge"})  # not an option the modal offers
        ack = await slack.submit_modal(slack.ana, {"model": "large", "tools": ["fetch"]})
    assert ack == {} and slack.modal(slack.ana) is None
    body = seen[0]
    assert body["type"] == "view_submission" and body["user"]["id"] == slack.ana
    assert {"team", "user", "view", "api_app_id", "token", "trigger_id", "response_urls"} <= set(body)
    values = body["view"]["state"]["values"]
    assert values["persona"]["text"] == {"type": "plain_text_input", "value": "be terse"}  # initial value
    assert values["model"]["pick"]["selected_option"]["value"] == "large"
    assert [o["value"] for o in values["tools"]["on"]["selected_options"]] == ["fetch"]
    # The SDK's own model of a view reads the submitted view (title, blocks, state).
    parsed = View(**body["view"])
    assert parsed.callback_id == "settings" and parsed.state is not None


async def test_errors_keep_the_modal_open_and_cancel_notifies(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    closed: list[dict[str, Any]] = []

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=modal())

    @app.view("settings")
    async def submitted(ack: Any) -> None:
        await ack(response_action="errors", errors={"persona": "Too vague"})

    @app.view_closed("settings")
    async def cancelled(ack: Any, body: dict[str, Any]) -> None:
        closed.append(body)
        await ack()

    async with socket_mode(slack, app):
        await slack.run_slash_command(slack.ana, slack.general, "/claude", "config")
        await slack.wait_for(lambda: slack.modal(slack.ana) is not None, what="the modal")
        with pytest.raises(modals.ModalRefused):
            await slack.submit_modal(slack.ana, {"persona": ""})  # required: Slack's client refuses
        ack = await slack.submit_modal(slack.ana, {"persona": "x"})
        shown = slack.modal(slack.ana)
        assert ack["response_action"] == "errors" and shown is not None
        assert shown.errors == {"persona": "Too vague"}
        await slack.close_modal(slack.ana)
        await slack.wait_for(lambda: closed, what="view_closed")
    assert closed[0]["type"] == "view_closed" and slack.modal(slack.ana) is None


async def test_trigger_ids_are_single_use_and_expire(
    slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = web_client(slack)
    triggers: list[str] = []
    app = bolt_app(slack)

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        triggers.append(command["trigger_id"])
        await ack()

    async def error(trigger: str, view: dict[str, Any] | None = None) -> str:
        with pytest.raises(SlackApiError) as caught:
            await client.views_open(trigger_id=trigger, view=view or modal())
        return str(caught.value.response["error"])

    async with socket_mode(slack, app):
        for _ in range(2):
            await slack.run_slash_command(slack.ana, slack.general, "/claude", "config")
    assert await error("123.456.abc") == "invalid_trigger_id"
    opened = await client.views_open(trigger_id=triggers[0], view=modal())
    assert opened["view"]["type"] == "modal" and opened["view"]["state"] == {"values": {}}
    assert await error(triggers[0]) == "exchanged_trigger_id"
    monkeypatch.setattr(modals, "TRIGGER_TTL_S", 0.05)
    await asyncio.sleep(0.1)  # past the (scaled-down) 3 s a trigger lives
    assert await error(triggers[1]) == "expired_trigger_id"


async def test_views_update_replaces_the_view_and_checks_its_hash(slack: SlackEmulator) -> None:
    client = web_client(slack)
    trigger = slack._core.modals.issue_trigger(slack.ana)
    opened = (await client.views_open(trigger_id=trigger, view=modal()))["view"]
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=opened["id"], hash="stale", view=modal())
    assert caught.value.response["error"] == "hash_conflict"
    title = {"type": "plain_text", "text": "Saved"}
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(title=title))
    shown = slack.modal(slack.ana)
    assert updated["view"]["title"]["text"] == "Saved" and shown is not None and shown.title == "Saved"
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id="V0NOPE", view=modal())
    assert caught.value.response["error"] == "not_found"


async def test_workspace_admins_and_channel_creators_are_visible(slack: SlackEmulator) -> None:
    client = web_client(slack)
    slack.make_workspace_admin(slack.ben)
    slack.make_workspace_admin(slack.chloe, owner=True)
    users = [(await client.users_info(user=u))["user"] for u in (slack.ana, slack.ben, slack.chloe)]
    assert [(u["is_admin"], u["is_owner"]) for u in users] == [(False, False), (True, False), (True, True)]
    slack.set_channel_creator(slack.general, slack.dev)
    info = await client.conversations_info(channel=slack.general)
    assert info["channel"]["creator"] == slack.dev


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
# The view of views.open's and views.push's documented success answers
# (docs.slack.dev/reference/methods/views.open, views.push).
DOCUMENTED_VIEW_KEYS = {
    "id", "team_id", "type", "title", "submit", "blocks", "private_metadata", "callback_id", "external_id",
    "state", "hash", "clear_on_close", "notify_on_close", "root_view_id", "previous_view_id", "app_id",
    "bot_id",
}  # fmt: skip


async def test_shapes_match_the_recorded_envelope_and_the_documented_view(slack: SlackEmulator) -> None:
    recorded = json.loads((FIXTURES / "socket_mode" / "envelope_slash_commands.json").read_text())
    trigger_shape = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
    assert trigger_shape.match(recorded["payload"]["trigger_id"])
    app = bolt_app(slack)
    answers: list[dict[str, Any]] = []

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        answers.append((await client.views_open(trigger_id=command["trigger_id"], view=modal())).data)

    @app.view("settings")
    async def submitted(ack: Any) -> None:
        await ack()

    async with socket_mode(slack, app):
        await slack.run_slash_command(slack.ana, slack.general, "/claude", "config")
        await slack.wait_for(lambda: slack.modal(slack.ana) is not None, what="the modal")
        await slack.submit_modal(slack.ana)
    command_envelope, view_envelope = slack.envelopes
    assert trigger_shape.match(command_envelope.payload["trigger_id"])
    frame = view_envelope.frame()
    assert set(frame) == set(recorded) and frame["type"] == "interactive"
    assert frame["accepts_response_payload"] is True  # a view submission's ack may carry response_action
    assert set(frame["payload"]["view"]) >= DOCUMENTED_VIEW_KEYS
    assert set(answers[0]["view"]) >= DOCUMENTED_VIEW_KEYS


async def test_a_standalone_emulator_shows_and_submits_modals_over_http(slack: SlackEmulator) -> None:
    app = bolt_app(slack)

    @app.command("/claude")
    async def command(ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=modal())

    @app.view("settings")
    async def submitted(ack: Any) -> None:
        await ack(response_action="errors", errors={"model": "Not that one"})

    @app.view_closed("settings")
    async def cancelled(ack: Any) -> None:
        await ack()

    control = f"{slack.base_url}_emulator"
    async with socket_mode(slack, app), aiohttp.ClientSession() as http:
        made = await (await http.post(f"{control}/user", json={"name": "wanda", "admin": True})).json()
        info = await web_client(slack).users_info(user=made["id"])
        assert info["user"]["is_admin"] is True
        await http.post(f"{control}/slash", json={"user": "ana", "text": "config"})
        shown = (await (await http.get(f"{control}/modal", params={"user": "ana"})).json())["modal"]
        assert shown["title"] == "Channel settings" and shown["errors"] == {}
        bad = await http.post(f"{control}/modal", json={"user": "ana", "values": {"model": "huge"}})
        assert bad.status == 400
        done = await (
            await http.post(f"{control}/modal", json={"user": "ana", "values": {"model": "large"}})
        ).json()
        assert done["ack"]["response_action"] == "errors"
        shown = (await (await http.get(f"{control}/modal", params={"user": "ana"})).json())["modal"]
        assert shown["errors"] == {"model": "Not that one"}
        assert (await http.post(f"{control}/modal/close", json={"user": "ana"})).status == 200
        assert (await (await http.get(f"{control}/modal", params={"user": "ana"})).json())["modal"] is None
