"""The Slack emulator's Web API, exercised through the real `slack_sdk` AsyncWebClient."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.models.messages.chunk import MarkdownTextChunk, PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from emulators.slack import SlackEmulator
from emulators.slack.__main__ import parse_args
from emulators.slack.testing import web_client


async def _error(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


# ------------------------------------------------------------------ auth
async def test_auth_test_identifies_the_bot_and_its_scopes(slack: SlackEmulator) -> None:
    response = await web_client(slack).auth_test()
    assert response["user_id"] == "U0BOT1234"
    assert response["bot_id"] == "B0BOT1234"
    assert response["team_id"] == "T0123ABCD"
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")


async def test_token_errors_match_slack(slack: SlackEmulator) -> None:
    no_token = await _error(AsyncWebClient(base_url=slack.api_url).auth_test())
    assert no_token.response["error"] == "not_authed"
    unknown = await _error(web_client(slack, token="xoxb-nope").auth_test())
    assert unknown.response["error"] == "invalid_auth"
    app_token_on_chat = await _error(
        web_client(slack, token=slack.app_token).chat_postMessage(channel=slack.general, text="hi")
    )
    assert app_token_on_chat.response["error"] == "not_allowed_token_type"
    bot_token_on_connections = await _error(
        web_client(slack).apps_connections_open(app_token=slack.bot_token)
    )
    assert bot_token_on_connections.response["error"] == "not_allowed_token_type"
    slack.revoke(slack.bot_token)
    revoked = await _error(web_client(slack).auth_test())
    assert revoked.response["error"] == "invalid_auth"
    assert revoked.response.status_code == 200  # Slack errors are HTTP 200


async def test_missing_scope_names_needed_and_provided(slack: SlackEmulator) -> None:
    slack.set_scopes(slack.bot_token, ["chat:write", "channels:history"])
    error = await _error(web_client(slack).files_getUploadURLExternal(filename="a.txt", length=3))
    assert error.response["error"] == "missing_scope"
    assert error.response["needed"] == "files:write"
    assert error.response["provided"] == "channels:history,chat:write"
    history = await _error(
        web_client(slack).conversations_replies(channel=slack.dm_channel(slack.ana), ts="1.0")
    )
    assert history.response["needed"] == "im:history"


async def test_unknown_params_are_ignored_and_calls_are_logged(slack: SlackEmulator) -> None:
    client = web_client(slack)
    await client.chat_postMessage(channel=slack.general, text="hello", team_id="T0123ABCD", unknown_flag=True)
    [call] = slack.calls_to("chat.postMessage")
    assert call.ok and call.token_kind == "bot" and call.http_status == 200
    assert call.params["text"] == "hello" and call.params["team_id"] == "T0123ABCD"


# ------------------------------------------------------------------ chat
async def test_post_message_in_thread_updates_root_bookkeeping(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "please run this", mention_bot=True)
    response = await web_client(slack).chat_postMessage(
        channel=slack.general, thread_ts=root, text="Running…"
    )
    message = response["message"]
    assert message["thread_ts"] == root and message["parent_user_id"] == slack.ana
    assert message["bot_id"] == slack.bot_id and message["bot_profile"]["app_id"] == slack.app_id
    assert message["blocks"][0]["type"] == "rich_text"
    await slack.post_message(slack.ben, slack.general, "me too", thread_ts=root)
    root_json = slack.message_json(slack.general, root)
    assert root_json is not None
    assert root_json["reply_count"] == 2
    assert root_json["reply_users"] == [slack.bot_user_id, slack.ben]
    assert root_json["latest_reply"] > response["ts"]


async def test_timestamps_strictly_increase(slack: SlackEmulator) -> None:
    client = web_client(slack)
    stamps = [(await client.chat_postMessage(channel=slack.general, text=str(i)))["ts"] for i in range(20)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 20
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


async def test_post_message_errors(slack: SlackEmulator) -> None:
    client = web_client(slack)
    conflict = await _error(client.chat_postMessage(channel=slack.general, text="a", markdown_text="**b**"))
    assert conflict.response["error"] == "markdown_text_conflict"
    too_long = await _error(client.chat_postMessage(channel=slack.general, markdown_text="x" * 12_001))
    assert too_long.response["error"] == "msg_too_long"
    not_member = await _error(client.chat_postMessage(channel=slack.random, text="hi"))
    assert not_member.response["error"] == "not_in_channel"
    with pytest.warns(UserWarning, match="text"):  # the SDK warns, then sends anyway
        no_text = await _error(client.chat_postMessage(channel=slack.general))
    assert no_text.response["error"] == "no_text"
    many_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    too_many = await _error(client.chat_postMessage(channel=slack.general, text="x", blocks=many_blocks))
    assert too_many.response["error"] == "invalid_blocks"
    truncated = await client.chat_postMessage(channel=slack.general, text="y" * 40_010)
    assert truncated["warning"] == "message_truncated"
    assert len(slack.channel_view(slack.general)[-1].text) == 40_000
    slack.set_scopes(slack.bot_token, [*slack.core.ws.tokens[slack.bot_token].scopes, "chat:write.public"])
    assert (await client.chat_postMessage(channel=slack.random, text="public"))["ok"]


async def test_update_and_delete_only_own_messages(slack: SlackEmulator) -> None:
    client = web_client(slack)
    human = await slack.post_message(slack.ana, slack.general, "mine")
    cant = await _error(client.chat_update(channel=slack.general, ts=human, text="hijack"))
    assert cant.response["error"] == "cant_update_message"
    missing = await _error(client.chat_update(channel=slack.general, ts="1.000001", text="x"))
    assert missing.response["error"] == "message_not_found"
    posted = await client.chat_postMessage(channel=slack.general, text="Running…")
    updated = await client.chat_update(channel=slack.general, ts=posted["ts"], text="Done in 1.2s")
    assert updated["message"]["edited"]["user"] == slack.bot_id
    assert slack.channel_view(slack.general)[-1].text == "Done in 1.2s"
    await client.chat_delete(channel=slack.general, ts=posted["ts"])
    assert all(m.ts != posted["ts"] for m in slack.channel_view(slack.general))
    delete_human = await _error(client.chat_delete(channel=slack.general, ts=human))
    assert delete_human.response["error"] == "cant_delete_message"


async def test_ephemeral_is_seen_only_by_its_user(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "hi", mention_bot=True)
    await slack.post_message(slack.ben, slack.general, "me too", thread_ts=root)
    await web_client(slack).chat_postEphemeral(
        channel=slack.general, user=slack.ana, thread_ts=root, text="psst"
    )
    assert [m.text for m in slack.thread_view(slack.general, root, viewer=slack.ana)] == [
        f"<@{slack.bot_user_id}> hi",
        "me too",
        "psst",
    ]
    assert len(slack.thread_view(slack.general, root, viewer=slack.ben)) == 2
    history = await web_client(slack).conversations_replies(channel=slack.general, ts=root)
    assert len(history["messages"]) == 2  # ephemerals are never in history


async def test_an_ephemeral_in_a_thread_with_no_replies_is_never_shown(slack: SlackEmulator) -> None:
    """docs.slack.dev/reference/methods/chat.postEphemeral: "Ephemeral messages in threads are only
    shown if there is already an active thread"; Slack still answers ok."""
    root = await slack.post_message(slack.ana, slack.general, "hi", mention_bot=True)
    answer = await web_client(slack).chat_postEphemeral(
        channel=slack.general, user=slack.ana, thread_ts=root, text="psst"
    )
    assert answer["ok"] and answer["message_ts"]
    assert [m.text for m in slack.thread_view(slack.general, root, viewer=slack.ana)] == [
        f"<@{slack.bot_user_id}> hi"
    ]
    assert all(m.text != "psst" for m in slack.channel_view(slack.general, viewer=slack.ana))
    await web_client(slack).chat_postEphemeral(channel=slack.general, user=slack.ana, text="in the channel")
    assert slack.channel_view(slack.general, viewer=slack.ana)[-1].text == "in the channel"


async def test_markdown_and_blocks_render_as_read(slack: SlackEmulator) -> None:
    client = web_client(slack)
    await client.chat_postMessage(channel=slack.general, markdown_text="**Result:** 42")
    blocks: list[dict[str, Any]] = [
        {"type": "markdown", "text": "# Title"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "stop", "text": {"type": "plain_text", "text": "Stop"}}
            ],
        },
    ]
    await client.chat_postMessage(channel=slack.general, text="fallback", blocks=blocks)
    view = slack.channel_view(slack.general)
    assert view[-2].text == "**Result:** 42"
    assert view[-1].text == "# Title\n*bold*"
    assert view[-1].blocks[2]["elements"][0]["action_id"] == "stop"


# ------------------------------------------------------------- streaming
async def test_chat_stream_with_task_cards(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "analyse", mention_bot=True)
    client = web_client(slack)
    streamer = await client.chat_stream(
        channel=slack.general,
        thread_ts=root,
        recipient_team_id=slack.team_id,
        recipient_user_id=slack.ana,
        buffer_size=8,
    )
    await streamer.append(markdown_text="Loading ")
    await streamer.append(
        chunks=[
            PlanUpdateChunk(title="Plan"),
            TaskUpdateChunk(id="s1", title="Run code", status="in_progress", details="import pandas\n"),
        ]
    )
    assert slack.bot_replies(slack.general, root)[0].stream_state == "streaming"
    await streamer.append(markdown_text="data…")
    await streamer.append(
        chunks=[TaskUpdateChunk(id="s1", title="Ran code", status="complete", output="42\n")]
    )
    await streamer.stop(
        markdown_text=" done",
        blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": "took 1s"}]}],
    )
    [reply] = slack.bot_replies(slack.general, root)
    assert reply.stream_state == "completed"
    assert reply.text == "Loading data… done\ntook 1s"
    assert reply.plan_title == "Plan"
    card = reply.tasks["s1"]
    assert (card.title, card.status, card.details, card.output) == (
        "Ran code",
        "complete",
        "import pandas\n",
        "42\n",
    )
    after = await _error(client.chat_appendStream(channel=slack.general, ts=reply.ts, markdown_text="late"))
    assert after.response["error"] == "message_not_in_streaming_state"
    conflict_free = await client.chat_update(channel=slack.general, ts=reply.ts, text="replaced")
    assert conflict_free["ok"]


async def test_stream_rules(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "go", mention_bot=True)
    client = web_client(slack)
    missing = await _error(client.chat_startStream(channel=slack.general, thread_ts=root, markdown_text="x"))
    assert missing.response["error"] == "missing_recipient_user_id"
    dm = slack.dm_channel(slack.ana)
    dm_root = await slack.post_message(slack.ana, dm, "in a DM")
    assert (await client.chat_startStream(channel=dm, thread_ts=dm_root, markdown_text="ok"))["ok"]
    started = await client.chat_startStream(
        channel=slack.general,
        thread_ts=root,
        recipient_user_id=slack.ana,
        recipient_team_id=slack.team_id,
        chunks=[MarkdownTextChunk(text="a")],
    )
    conflict = await _error(client.chat_update(channel=slack.general, ts=started["ts"], text="x"))
    assert conflict.response["error"] == "streaming_state_conflict"
    too_long = await _error(
        client.chat_appendStream(channel=slack.general, ts=started["ts"], markdown_text="x" * 12_001)
    )
    assert too_long.response["error"] == "msg_too_long"
    bad = await _error(
        client.chat_appendStream(
            channel=slack.general, ts=started["ts"], chunks=[{"type": "task_update", "id": "1"}]
        )
    )
    assert bad.response["error"] == "invalid_chunks"
    not_owned = await _error(client.chat_appendStream(channel=slack.general, ts=root, markdown_text="x"))
    assert not_owned.response["error"] == "message_not_owned_by_app"
    slack.stream_expiry_s = 0.0
    expired = await _error(
        client.chat_appendStream(channel=slack.general, ts=started["ts"], markdown_text="x")
    )
    assert expired.response["error"] == "message_not_in_streaming_state"


# ----------------------------------------------------------- statuses
async def test_status_history_and_auto_clear(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "work", mention_bot=True)
    client = web_client(slack)
    await client.assistant_threads_setStatus(
        channel_id=slack.general,
        thread_ts=root,
        status="is running your code…",
        loading_messages=["Crunching"],
    )
    assert slack.current_status(slack.general, root) == "is running your code…"
    await client.chat_postMessage(channel=slack.general, thread_ts=root, text="done")
    assert slack.current_status(slack.general, root) == ""
    await client.assistant_threads_setStatus(channel_id=slack.general, thread_ts=root, status="thinking")
    await client.assistant_threads_setStatus(channel_id=slack.general, thread_ts=root, status="")
    history = slack.status_history(slack.general, root)
    assert [(h.status, h.source) for h in history] == [
        ("is running your code…", "api"),
        ("", "cleared_by_reply"),
        ("thinking", "api"),
        ("", "api"),
    ]
    assert history[0].loading_messages == ["Crunching"]
    assert all(a.at <= b.at for a, b in itertools.pairwise(history))
    slack.status_expiry_s = 0.05
    await client.assistant_threads_setStatus(channel_id=slack.general, thread_ts=root, status="slow")
    await slack.wait_for(lambda: slack.status_history(slack.general, root)[-1].source == "expired", timeout=2)
    bad = await _error(
        client.assistant_threads_setStatus(channel_id=slack.general, thread_ts="1.000001", status="x")
    )
    assert bad.response["error"] == "invalid_thread_ts"


# ------------------------------------------------------- reactions etc.
async def test_reactions(slack: SlackEmulator) -> None:
    ts = await slack.post_message(slack.ana, slack.general, "run", mention_bot=True)
    client = web_client(slack)
    await client.reactions_add(channel=slack.general, timestamp=ts, name="hourglass_flowing_sand")
    again = await _error(
        client.reactions_add(channel=slack.general, timestamp=ts, name="hourglass_flowing_sand")
    )
    assert again.response["error"] == "already_reacted"
    assert slack.thread_view(slack.general, ts)[0].reactions == {
        "hourglass_flowing_sand": [slack.bot_user_id]
    }
    await client.reactions_remove(channel=slack.general, timestamp=ts, name="hourglass_flowing_sand")
    none = await _error(
        client.reactions_remove(channel=slack.general, timestamp=ts, name="hourglass_flowing_sand")
    )
    assert none.response["error"] == "no_reaction"


async def test_conversations_replies_paginates(slack: SlackEmulator) -> None:
    root = await slack.post_message(slack.ana, slack.general, "root", mention_bot=True)
    for i in range(7):
        await slack.post_message(
            slack.ben if i % 2 else slack.ana, slack.general, f"reply {i}", thread_ts=root
        )
    client = web_client(slack)
    seen: list[str] = []
    pages = 0
    async for page in await client.conversations_replies(channel=slack.general, ts=root, limit=3):
        pages += 1
        seen += [m["text"] for m in page["messages"]]
    assert pages == 3
    assert seen == [f"<@{slack.bot_user_id}> root", *(f"reply {i}" for i in range(7))]
    first = await client.conversations_replies(channel=slack.general, ts=root, limit=3)
    assert first["has_more"] is True and first["response_metadata"]["next_cursor"]
    by_reply = await client.conversations_replies(channel=slack.general, ts=first["messages"][1]["ts"])
    assert len(by_reply["messages"]) == 8  # any ts of the thread returns the whole thread
    not_found = await _error(client.conversations_replies(channel=slack.general, ts="1.000001"))
    assert not_found.response["error"] == "thread_not_found"
    no_access = await _error(client.conversations_replies(channel=slack.random, ts=root))
    assert no_access.response["error"] == "not_in_channel"
    private = slack.add_channel("secret", private=True, bot_member=False)
    hidden = await _error(client.conversations_replies(channel=private, ts=root))
    assert hidden.response["error"] == "channel_not_found"


async def test_message_metadata_is_listed_only_when_asked_for(slack: SlackEmulator) -> None:
    client = web_client(slack)
    meta = {"event_type": "claude_question", "event_payload": {"trigger_id": "13345224609.1"}}
    posted = await client.chat_postMessage(channel=slack.general, text="asked", metadata=meta)
    assert posted["message"]["metadata"] == meta
    plain = await client.conversations_history(channel=slack.general)
    assert "metadata" not in plain["messages"][0]  # include_all_metadata defaults to false
    listed = await client.conversations_history(channel=slack.general, include_all_metadata=True)
    assert listed["messages"][0]["metadata"] == meta
    thread = await client.conversations_replies(
        channel=slack.general, ts=posted["ts"], include_all_metadata=True
    )
    assert thread["messages"][0]["metadata"] == meta


async def test_info_methods(slack: SlackEmulator) -> None:
    client = web_client(slack)
    user = (await client.users_info(user=slack.ana))["user"]
    assert (user["name"], user["real_name"], user["is_bot"]) == ("ana", "Ana Lima", False)
    missing = await _error(client.users_info(user="U0NOBODY1"))
    assert missing.response["error"] == "user_not_found"
    channel = (await client.conversations_info(channel=slack.general))["channel"]
    assert channel["is_member"] is True and channel["name"] == "general"
    dm = (await client.conversations_info(channel=slack.dm_channel(slack.ben)))["channel"]
    assert dm["is_im"] is True and dm["user"] == slack.ben
    ts = await slack.post_message(slack.ana, slack.general, "link me")
    link = await client.chat_getPermalink(channel=slack.general, message_ts=ts)
    assert link["permalink"].endswith("/archives/C0123ABCD/p" + ts.replace(".", ""))
    history = await client.conversations_history(channel=slack.general)
    assert history["messages"][0]["ts"] == ts


# ------------------------------------------------------ failures and 429s
async def test_fail_next_injects_errors(slack: SlackEmulator) -> None:
    slack.fail_next("chat.postMessage", "channel_not_found", times=2)
    client = web_client(slack)
    for _ in range(2):
        error = await _error(client.chat_postMessage(channel=slack.general, text="x"))
        assert error.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel=slack.general, text="x"))["ok"]


async def test_injected_429_is_honoured_by_the_sdk_retry_handler(slack: SlackEmulator) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=0)
    client = web_client(slack)
    raw = await _error(client.chat_postMessage(channel=slack.general, text="x"))
    assert raw.response.status_code == 429 and raw.response["error"] == "ratelimited"
    assert raw.response.headers["Retry-After"] == "0"
    slack.rate_limit_next("chat.postMessage", retry_after=0)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    assert (await client.chat_postMessage(channel=slack.general, text="x"))["ok"]
    assert [c.http_status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert slack.rate_limited_calls == 2


async def test_rate_tiers_when_enforced(slack: SlackEmulator) -> None:
    slack.enforce_rate_tiers = True
    client = web_client(slack)
    ts = await slack.post_message(slack.ana, slack.general, "x")
    for _ in range(50):  # reactions.get is Tier 3: 50 per minute
        await client.reactions_get(channel=slack.general, timestamp=ts)
    limited = await _error(client.reactions_get(channel=slack.general, timestamp=ts))
    assert limited.response.status_code == 429 and int(limited.response.headers["Retry-After"]) >= 1
    for _ in range(3):  # chat.postMessage: ~1/s per channel with a burst of 3
        await client.chat_postMessage(channel=slack.general, text="burst")
    burst = await _error(client.chat_postMessage(channel=slack.general, text="too fast"))
    assert burst.response.status_code == 429
    assert (await client.chat_postMessage(channel=slack.dm_channel(slack.ana), text="other channel"))["ok"]


async def test_rate_limits_are_buckets_with_the_burst_a_parameter() -> None:
    """A tiered method takes `tier_burst` minutes of its rate at once, then its sustained rate;
    posts take `post_burst` per channel at once, then one a second; a 429 says when to come back."""
    async with SlackEmulator(post_burst=5, tier_burst=0.1) as slack:
        slack.enforce_rate_tiers = True
        client = web_client(slack)
        ts = await slack.post_message(slack.ana, slack.general, "x")
        for _ in range(5):  # reactions.get is Tier 3 (50 per minute): a tenth of a minute is 5 calls
            await client.reactions_get(channel=slack.general, timestamp=ts)
        limited = await _error(client.reactions_get(channel=slack.general, timestamp=ts))
        # One more token takes 60/50 s: Retry-After is the whole seconds until then.
        assert limited.response.status_code == 429 and limited.response.headers["Retry-After"] == "2"
        for _ in range(5):
            await client.chat_postMessage(channel=slack.general, text="burst")
        burst = await _error(client.chat_postMessage(channel=slack.general, text="too fast"))
        assert burst.response.status_code == 429 and burst.response.headers["Retry-After"] == "1"
        assert slack.rate_limited_calls == 2


def test_the_command_line_sets_the_bursts() -> None:
    args = parse_args(["--enforce-rate-tiers", "--post-burst", "10", "--tier-burst", "0.5"])
    assert (args.enforce_rate_tiers, args.post_burst, args.tier_burst) == (True, 10, 0.5)
    assert (parse_args([]).post_burst, parse_args([]).tier_burst) == (3, 1.0)
