"""The Slack emulator where real Slack surprised the project (issue 12), through the real slack_sdk:
link previews, special mentions, stream size and lifetime, file names, the twin events of a mention,
Slack Connect recipients, and when Slack shows its own stop button."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from emulators.slack.events import MentionTwins
from emulators.slack.testing import web_client


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return str(caught.value.response["error"])


# ------------------------------------------------------------ link previews and special mentions
async def test_links_in_an_apps_post_are_previewed_unless_it_says_not_to(slack: SlackEmulator) -> None:
    client = web_client(slack)
    link = "https://example.com/report?id=7"
    first = await client.chat_postMessage(channel=slack.general, text=f"see <{link}>")
    blocks = [{"type": "markdown", "text": "chart: https://example.com/c.png"}]
    quiet = await client.chat_postMessage(
        channel=slack.general, text="x", blocks=blocks, unfurl_links=False, unfurl_media=False
    )
    assert [(u.ts, u.url, u.media) for u in slack.unfurls] == [(first["ts"], link, False)]
    # An edit cannot choose (chat.update has no unfurl arguments): it keeps the post's choice.
    await client.chat_update(channel=slack.general, ts=quiet["ts"], text=f"now {link}")
    assert len(slack.unfurls) == 1
    await client.chat_update(channel=slack.general, ts=first["ts"], text="https://example.com/new")
    assert slack.unfurls[-1].url == "https://example.com/new"


async def test_special_mentions_are_recorded_wherever_they_are_posted(slack: SlackEmulator) -> None:
    client = web_client(slack)
    root = await slack.post_message(slack.ana, slack.general, "go", mention_bot=True)
    await client.chat_postMessage(channel=slack.general, text="hey <!here>")
    await client.chat_postMessage(channel=slack.general, text="plain @channel is inert in text")
    await client.chat_postMessage(channel=slack.general, markdown_text="but @channel in Markdown counts")
    started = await client.chat_startStream(
        channel=slack.general,
        thread_ts=root,
        recipient_user_id=slack.ana,
        recipient_team_id=slack.team_id,
        chunks=[{"type": "task_update", "id": "t", "title": "ping <!everyone>", "status": "in_progress"}],
    )
    await client.chat_stopStream(channel=slack.general, ts=started["ts"], markdown_text="<!subteam^S1|@ops>")
    assert [m.kind for m in slack.special_mentions] == ["here", "channel", "everyone", "subteam"]


# ------------------------------------------------------------------------------------- file names
async def test_upload_names_over_255_bytes_and_empty_files_are_refused(slack: SlackEmulator) -> None:
    client = web_client(slack)
    emoji = "\U0001f4ca" * 64  # 256 bytes
    assert await _error(client.files_getUploadURLExternal(filename=emoji, length=3)) == "invalid_arguments"
    assert await _error(client.files_getUploadURLExternal(filename="e.csv", length=0)) == "missing_argument"
    ok = await client.files_getUploadURLExternal(filename="\U0001f4ca" * 63 + ".md", length=3)
    assert ok["ok"]


# ------------------------------------------------------------------------------------ Slack Connect
async def test_a_slack_connect_user_is_streamed_to_under_their_own_team(slack: SlackEmulator) -> None:
    guest = slack.add_user("gus", "Gus from Partner", team_id="T0PARTNER")
    root = await slack.post_message(guest, slack.general, "hello", mention_bot=True)
    mention = slack.events("app_mention")[-1].payload["event"]
    assert (mention["user_team"], mention["source_team"], mention["team"]) == ("T0PARTNER",) * 3
    client = web_client(slack)
    under_ours = client.chat_startStream(
        channel=slack.general,
        thread_ts=root,
        recipient_user_id=guest,
        recipient_team_id=slack.team_id,
        markdown_text="hi",
    )
    assert await _error(under_ours) == "invalid_arguments"
    started = await client.chat_startStream(
        channel=slack.general, thread_ts=root, recipient_user_id=guest, recipient_team_id="T0PARTNER"
    )
    assert started["ok"]


# ------------------------------------------------------------------------------------ streams
async def _stream(slack: SlackEmulator, chunks: list[dict[str, Any]]) -> tuple[str, str]:
    """(thread root, stream ts) of a new stream in a new thread."""
    root = await slack.post_message(slack.ana, slack.general, "go", mention_bot=True)
    started = await web_client(slack).chat_startStream(
        channel=slack.general,
        thread_ts=root,
        recipient_user_id=slack.ana,
        recipient_team_id=slack.team_id,
        chunks=chunks,
    )
    return root, str(started["ts"])


async def test_a_streamed_message_is_limited_by_everything_it_carries(slack: SlackEmulator) -> None:
    client = web_client(slack)
    card = {"type": "task_update", "id": "c", "title": "T", "status": "complete", "details": "d" * 6_000}
    # Cards alone may be big (no body text yet)...
    _, ts = await _stream(slack, [card])
    # ...but once there is text, details count twice: 10 + 1 + 12,000 > 10,600.
    refused = client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="x" * 10)
    assert await _error(refused) == "msg_too_long"
    _, ts = await _stream(slack, [{"type": "markdown_text", "text": "é" * 5_000}])  # 10,000 bytes
    over = client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="y" * 601)
    assert await _error(over) == "msg_too_long"
    assert (await client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="y" * 600))["ok"]


async def test_slack_ends_a_stream_on_its_own_appends_or_not(slack: SlackEmulator) -> None:
    assert slack.stream_expiry_s == 300.0  # about five minutes, as reported
    slack.stream_expiry_s = 0.3
    client = web_client(slack)
    root, ts = await _stream(slack, [{"type": "markdown_text", "text": "a"}])
    assert (await client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="b"))["ok"]
    await slack.wait_for(lambda: slack.bot_replies(slack.general, root)[0].stream_state == "expired", 5)
    late = client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="c")
    assert await _error(late) == "message_not_in_streaming_state"
    assert (await client.chat_update(channel=slack.general, ts=ts, text="recovered"))["ok"]


# ------------------------------------------------------------------------------- Slack's own stop
async def test_slacks_stop_button_shows_only_while_an_agent_session_processes(slack: SlackEmulator) -> None:
    client = web_client(slack)
    root, ts = await _stream(slack, [{"type": "markdown_text", "text": "working"}])
    with pytest.raises(LookupError):
        await slack.press_native_stop("ana", "general", root)  # a plain stream: no stop button
    session = await client.agents_sessions_setStatus(
        channel_id=slack.general, thread_ts=root, status="processing"
    )
    assert session["warning"] == "missing_agent_session_stopped_event_subscription"
    assert await slack.press_native_stop("ana", "general", root) == [ts]
    stopped = client.chat_appendStream(channel=slack.general, ts=ts, markdown_text="x")
    assert await _error(stopped) == "stopped_by_user"


# -------------------------------------------------------------------- the twin events of a mention
@pytest.mark.parametrize(
    ("twins", "expected"),
    [
        ("app_mention_first", [("app_mention", True), ("message", True)]),
        ("message_first", [("message", True), ("app_mention", True)]),
        ("sparse_mention_first", [("app_mention", False), ("message", True)]),
        ("sparse_mention_last", [("message", True), ("app_mention", False)]),
        ("message_only", [("message", True)]),
    ],
)
async def test_how_the_twins_of_a_mention_with_a_file_arrive(
    slack: SlackEmulator, twins: MentionTwins, expected: list[tuple[str, bool]]
) -> None:
    await slack.post_message(
        slack.ana,
        slack.general,
        "look",
        mention_bot=True,
        files=[("a.csv", b"a\n1\n", None)],
        mention_twins=twins,
    )
    events = [e.payload["event"] for e in slack.events()]
    assert [(e["type"], "files" in e) for e in events] == expected
    assert len({e["ts"] for e in events}) == 1  # one message, whichever events tell of it
