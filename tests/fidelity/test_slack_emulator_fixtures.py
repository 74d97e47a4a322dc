"""Shape fidelity: the emulator's answers and events have the keys of the recorded Slack fixtures.

Every file in `tests/fixtures/slack/web_api/` and `events_api/` has a scenario below that performs the
same action against the emulator; the key paths (three levels deep, list items merged) must match.
Fixtures that are abbreviated samples list the realistic extra keys the emulator may add, explicitly.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I4sII", 13, b"IHDR", 1200, 800)
    + b"\x08\x06\x00\x00\x00"
    + b"\0" * 32
)
CSV = b"date,value\n2024-11-01,3\n2024-11-02,5\n" + b"2024-11-03,8\n" * 10

JSON = dict[str, Any]
Scenario = Callable[[SlackEmulator], Awaitable[JSON]]


def key_paths(value: Any, prefix: str = "", depth: int = 3) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            if depth > 1:
                out |= key_paths(child, path, depth - 1)
    elif isinstance(value, list):
        for item in value:
            out |= key_paths(item, prefix + "[]", depth)
    return out


def load(kind: str, name: str) -> JSON:
    value = json.loads((FIXTURES / kind / name).read_text())
    assert isinstance(value, dict)
    return value


async def answer(call: Awaitable[Any]) -> JSON:
    try:
        response = await call
    except SlackApiError as error:
        data: JSON = error.response.data
        return data
    return dict(response.data)


async def thread_root(slack: SlackEmulator) -> str:
    return await slack.post_message(slack.ana, slack.general, "please run", mention_bot=True)


async def started_stream(slack: SlackEmulator) -> tuple[str, str]:
    root = await thread_root(slack)
    started = await web_client(slack).chat_startStream(
        channel=slack.general,
        thread_ts=root,
        recipient_user_id=slack.ana,
        recipient_team_id=slack.team_id,
        markdown_text="Here is",
    )
    return root, str(started["ts"])


async def uploaded_png(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    response = await web_client(slack).files_upload_v2(
        file=PNG, filename="output.png", channel=slack.general, thread_ts=root
    )
    data: JSON = dict(response.data)  # type: ignore[arg-type]
    data.pop("file", None)  # added client-side by the SDK for single-file uploads, not sent by Slack
    return data


# ---------------------------------------------------------------- web api
async def _apps_connections_open(slack: SlackEmulator) -> JSON:
    return await answer(web_client(slack, slack.app_token).apps_connections_open(app_token=slack.app_token))


async def _set_status(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    return await answer(
        web_client(slack).assistant_threads_setStatus(
            channel_id=slack.general, thread_ts=root, status="is working…"
        )
    )


async def _auth_test(slack: SlackEmulator) -> JSON:
    return await answer(web_client(slack).auth_test())


async def _append_stream(slack: SlackEmulator) -> JSON:
    _, ts = await started_stream(slack)
    return await answer(
        web_client(slack).chat_appendStream(channel=slack.general, ts=ts, markdown_text=" more")
    )


async def _append_after_stop(slack: SlackEmulator) -> JSON:
    _, ts = await started_stream(slack)
    await web_client(slack).chat_stopStream(channel=slack.general, ts=ts)
    return await answer(
        web_client(slack).chat_appendStream(channel=slack.general, ts=ts, markdown_text="late")
    )


async def _post_message(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    return await answer(
        web_client(slack).chat_postMessage(channel=slack.general, thread_ts=root, text="Running…")
    )


async def _start_stream(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    return await answer(
        web_client(slack).chat_startStream(
            channel=slack.general,
            thread_ts=root,
            recipient_user_id=slack.ana,
            recipient_team_id=slack.team_id,
        )
    )


async def _stop_stream(slack: SlackEmulator) -> JSON:
    _, ts = await started_stream(slack)
    return await answer(
        web_client(slack).chat_stopStream(channel=slack.general, ts=ts, markdown_text=" result")
    )


async def _update(slack: SlackEmulator) -> JSON:
    posted = await web_client(slack).chat_postMessage(channel=slack.general, text="Running…")
    return await answer(
        web_client(slack).chat_update(channel=slack.general, ts=posted["ts"], text="Done in 1.2s")
    )


async def _replies(slack: SlackEmulator) -> JSON:
    root = await slack.post_message(
        slack.ana,
        slack.general,
        "please run the analysis on this",
        mention_bot=True,
        files=[("data.csv", CSV, None)],
    )
    await web_client(slack).chat_postMessage(
        channel=slack.general, thread_ts=root, text="Done. Output:\n```1024```"
    )
    await slack.post_message(
        slack.ana, slack.general, "here is the chart", thread_ts=root, files=[("chart.png", PNG, None)]
    )
    await slack.post_message(
        slack.ana, slack.general, "now print the first 5 rows", thread_ts=root, mention_bot=True
    )
    return await answer(web_client(slack).conversations_replies(channel=slack.general, ts=root))


async def _invalid_auth(slack: SlackEmulator) -> JSON:
    return await answer(web_client(slack, "xoxb-invalid").auth_test())


async def _missing_scope(slack: SlackEmulator) -> JSON:
    slack.set_scopes(slack.bot_token, ["app_mentions:read", "chat:write", "channels:history"])
    return await answer(web_client(slack).files_getUploadURLExternal(filename="a.png", length=10))


async def _not_allowed_token_type(slack: SlackEmulator) -> JSON:
    return await answer(web_client(slack).apps_connections_open(app_token=slack.bot_token))


async def _ratelimited(slack: SlackEmulator) -> JSON:
    slack.rate_limit_next("chat.postMessage", retry_after=3)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            slack.api_url + "chat.postMessage",
            json={"channel": slack.general, "text": "x"},
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        ) as response,
    ):
        body: JSON = await response.json()
        body["_http"] = {
            "status": response.status,
            "headers": {
                "Retry-After": response.headers["Retry-After"],
                "Content-Type": response.headers["Content-Type"],
            },
        }
        return body


async def _complete_upload(slack: SlackEmulator) -> JSON:
    return await uploaded_png(slack)


async def _get_upload_url(slack: SlackEmulator) -> JSON:
    return await answer(web_client(slack).files_getUploadURLExternal(filename="output.png", length=48213))


async def _files_info(slack: SlackEmulator) -> JSON:
    uploaded = await uploaded_png(slack)
    return await answer(web_client(slack).files_info(file=uploaded["files"][0]["id"]))


async def _reactions_add(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    return await answer(web_client(slack).reactions_add(channel=slack.general, timestamp=root, name="eyes"))


async def _already_reacted(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    await web_client(slack).reactions_add(channel=slack.general, timestamp=root, name="eyes")
    return await answer(web_client(slack).reactions_add(channel=slack.general, timestamp=root, name="eyes"))


WEB_API: dict[str, Scenario] = {
    "apps.connections.open.json": _apps_connections_open,
    "assistant.threads.setStatus.json": _set_status,
    "auth.test.json": _auth_test,
    "chat.appendStream.json": _append_stream,
    "chat.appendStream_error_not_streaming.json": _append_after_stop,
    "chat.postMessage.json": _post_message,
    "chat.startStream.json": _start_stream,
    "chat.stopStream.json": _stop_stream,
    "chat.update.json": _update,
    "conversations.replies.json": _replies,
    "error_invalid_auth.json": _invalid_auth,
    "error_missing_scope.json": _missing_scope,
    "error_not_allowed_token_type.json": _not_allowed_token_type,
    "error_ratelimited_429.json": _ratelimited,
    "files.completeUploadExternal.json": _complete_upload,
    "files.getUploadURLExternal.json": _get_upload_url,
    "files.info.json": _files_info,
    "reactions.add.json": _reactions_add,
    "reactions.add_error_already_reacted.json": _already_reacted,
}

# The conversations.replies fixture is an abbreviated sample: real messages also carry these keys.
REALISTIC_EXTRAS: dict[str, set[str]] = {
    "conversations.replies.json": {"messages[].client_msg_id"},
}


def test_every_fixture_has_a_scenario() -> None:
    assert sorted(p.name for p in (FIXTURES / "web_api").glob("*.json")) == sorted(WEB_API)
    assert sorted(p.name for p in (FIXTURES / "events_api").glob("*.json")) == sorted(EVENTS)


@pytest.mark.parametrize("name", sorted(WEB_API))
async def test_web_api_answers_have_fixture_keys(slack: SlackEmulator, name: str) -> None:
    fixture = load("web_api", name)
    actual = await WEB_API[name](slack)
    expected_paths, actual_paths = key_paths(fixture), key_paths(actual)
    assert expected_paths - actual_paths == set(), "keys missing from the emulator"
    extras = {
        p
        for p in actual_paths - expected_paths
        if not any(p.startswith(e) for e in REALISTIC_EXTRAS.get(name, ()))
    }
    assert extras == set(), "keys the fixture does not have"
    if "error" in fixture:
        assert actual["error"] == fixture["error"]
    if "_http" in fixture:
        assert actual["_http"]["status"] == fixture["_http"]["status"]


# ------------------------------------------------------------------ events
def event_payloads(slack: SlackEmulator, event_type: str) -> list[JSON]:
    return [e.payload for e in slack.events(event_type)]


async def _mention_with_file(slack: SlackEmulator) -> JSON:
    await slack.post_message(
        slack.ana, slack.general, "please run the analysis", mention_bot=True, files=[("data.csv", CSV, None)]
    )
    return event_payloads(slack, "app_mention")[0]


async def _twin_message(slack: SlackEmulator) -> JSON:
    await slack.post_message(
        slack.ana, slack.general, "please run the analysis", mention_bot=True, files=[("data.csv", CSV, None)]
    )
    return event_payloads(slack, "message/file_share")[0]


async def _thread_reply(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    await slack.post_message(
        slack.ana, slack.general, "now print the first 5 rows", thread_ts=root, mention_bot=True
    )
    return event_payloads(slack, "message")[-1]


async def _thread_reply_file(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    await slack.post_message(
        slack.ana, slack.general, "bars blue?", thread_ts=root, files=[("chart.png", PNG, None)]
    )
    return event_payloads(slack, "message/file_share")[-1]


async def _im(slack: SlackEmulator) -> JSON:
    await slack.post_message(slack.ana, slack.dm_channel(slack.ana), "```print(2 ** 10)```")
    return event_payloads(slack, "message")[-1]


async def _own_bot(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    await web_client(slack).chat_postMessage(
        channel=slack.general, thread_ts=root, text="Done. Output:\n```1024```"
    )
    return event_payloads(slack, "message")[-1]


async def _changed(slack: SlackEmulator) -> JSON:
    root = await thread_root(slack)
    ts = await slack.post_message(
        slack.ana, slack.general, "print the first 5 rows", thread_ts=root, mention_bot=True
    )
    await slack.edit_message(slack.ana, slack.general, ts, "now print the first 10 rows")
    return event_payloads(slack, "message/message_changed")[-1]


async def _deleted(slack: SlackEmulator) -> JSON:
    ts = await slack.post_message(slack.ana, slack.general, "oops wrong channel")
    await slack.delete_message(slack.ana, slack.general, ts)
    return event_payloads(slack, "message/message_deleted")[-1]


async def _file_shared(slack: SlackEmulator) -> JSON:
    slack.subscriptions.add("file_shared")
    root = await thread_root(slack)
    await slack.post_message(
        slack.ana, slack.general, "chart", thread_ts=root, files=[("chart.png", PNG, None)]
    )
    return event_payloads(slack, "file_shared")[-1]


async def _home_opened(slack: SlackEmulator) -> JSON:
    slack.subscriptions.add("app_home_opened")
    await slack.open_messages_tab(slack.ana)
    return event_payloads(slack, "app_home_opened")[-1]


async def _assistant_started(slack: SlackEmulator) -> JSON:
    await slack.start_assistant_thread(slack.ana, context_channel=slack.general)
    return event_payloads(slack, "assistant_thread_started")[-1]


EVENTS: dict[str, Scenario] = {
    "app_mention_with_file.json": _mention_with_file,
    "message_file_share_channel_toplevel.json": _twin_message,
    "message_thread_reply.json": _thread_reply,
    "message_thread_reply_file_share.json": _thread_reply_file,
    "message_im.json": _im,
    "message_from_own_bot.json": _own_bot,
    "message_changed.json": _changed,
    "message_deleted.json": _deleted,
    "file_shared.json": _file_shared,
    "app_home_opened_messages_tab.json": _home_opened,
    "assistant_thread_started.json": _assistant_started,
}


@pytest.mark.parametrize("name", sorted(EVENTS))
async def test_events_have_fixture_keys(slack: SlackEmulator, name: str) -> None:
    fixture = load("events_api", name)
    actual = await EVENTS[name](slack)
    assert key_paths(actual, depth=4) == key_paths(fixture, depth=4)
    assert actual["event"]["type"] == fixture["event"]["type"]
    assert actual["event"].get("subtype") == fixture["event"].get("subtype")
    assert actual["event"].get("channel_type") == fixture["event"].get("channel_type")
    assert actual["event_context"].startswith("4-")


async def test_slash_command_payload_has_fixture_keys(slack: SlackEmulator) -> None:
    slack.slash_ack_timeout_s = 0.01
    with pytest.raises(TimeoutError):
        await slack.run_slash_command(slack.ana, slack.general, "/run", "print(sum(range(10)))")
    [envelope] = slack.pending_envelopes
    assert set(envelope.frame()) == set(load("socket_mode", "envelope_slash_commands.json"))
    assert set(envelope.payload) == set(load("slash_commands", "slash_command_payload.json"))
