"""Guests, user groups, the Home tab (views.publish, app_home_opened), image blocks naming Slack files,
files uploaded without a channel and files.delete, through the real slack_sdk client."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client

PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 40, 30) + b"\x08\x06\x00\x00\x00" + b"\0" * 32


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        await call
    data: dict[str, Any] = caught.value.response.data
    return data


async def private_png(slack: SlackEmulator, name: str = "chart.png") -> str:
    """A PNG the app uploads without a channel (files_upload_v2 with no channel)."""
    answer = await web_client(slack).files_upload_v2(file=PNG, filename=name)
    return str(answer["file"]["id"])


def image_view(file_ref: dict[str, str], alt: str = "spend per day") -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Spend*"}},
            {"type": "image", "slack_file": file_ref, "alt_text": alt},
        ],
    }


async def test_guests_are_restricted_accounts_and_cannot_join_channels_themselves(
    slack: SlackEmulator,
) -> None:
    multi = slack.add_user("gail", guest="multi")
    single = slack.add_user("sam", guest="single")
    client = web_client(slack)
    users = [(await client.users_info(user=u))["user"] for u in (slack.ana, multi, single)]
    flags = [(u["is_restricted"], u["is_ultra_restricted"]) for u in users]
    assert flags == [(False, False), (True, False), (True, True)]
    with pytest.raises(PermissionError):
        await slack.post_message(multi, slack.general, "hello")
    slack.add_to_channel(multi, slack.general)
    assert await slack.post_message(multi, slack.general, "hello")


async def test_users_list_pages_through_the_workspace(slack: SlackEmulator) -> None:
    gail = slack.add_user("gail", guest="multi")
    slack.add_user("pat", team_id="T0PARTNER")  # another organisation's: not a member of this one
    client = web_client(slack)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await client.users_list(limit=3, cursor=cursor)
        assert len(page["members"]) <= 3
        seen += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [u["id"] for u in seen] == [u["id"] for u in (await client.users_list())["members"]]
    names = {u["name"]: u for u in seen}
    assert {"ana", "ben", "chloe", "dev", "gail"} <= set(names) and "pat" not in names
    assert names["gail"]["id"] == gail and names["gail"]["is_restricted"] is True
    assert (await error_of(client.users_list(cursor="bm9wZQ==")))["error"] == "invalid_cursor"


async def test_usergroups_users_list(slack: SlackEmulator) -> None:
    group = slack.add_usergroup("data-team", ["ana", "ben"])
    client = web_client(slack)
    assert (await client.usergroups_users_list(usergroup=group))["users"] == [slack.ana, slack.ben]
    assert (await error_of(client.usergroups_users_list(usergroup="S0NOPE000")))["error"] == "no_such_subteam"
    slack.set_scopes(slack.bot_token, {"users:read"})
    missing = await error_of(client.usergroups_users_list(usergroup=group))
    assert (missing["error"], missing["needed"]) == ("missing_scope", "usergroups:read")


async def test_views_publish_sets_the_home_tab_and_app_home_opened_carries_it(slack: SlackEmulator) -> None:
    client = web_client(slack)
    await slack.open_home_tab(slack.ana)
    [first] = [e.payload["event"] for e in slack.events("app_home_opened")]
    assert (first["tab"], first["user"], "view" in first) == ("home", slack.ana, False)
    assert first["channel"] == slack.dm_channel(slack.ana)

    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hello*"}}]}
    answer = await client.views_publish(user_id=slack.ana, view=view)
    assert answer["view"]["type"] == "home" and answer["view"]["blocks"][0]["block_id"]
    tab = slack.home_tab(slack.ana)
    assert tab is not None and tab.text == "*Hello*" and slack.home_tab(slack.ben) is None

    await slack.open_home_tab(slack.ana)
    second = [e.payload["event"] for e in slack.events("app_home_opened")][-1]
    assert second["view"]["id"] == answer["view"]["id"] and second["view"]["hash"] == answer["view"]["hash"]
    stale = await error_of(client.views_publish(user_id=slack.ana, view=view, hash="1.1"))
    assert stale["error"] == "hash_conflict"


@pytest.mark.parametrize(
    ("user", "view", "message"),
    [
        ("U0NOBODY1", {"type": "home", "blocks": []}, "invalid `user_id`"),
        ("ana", {"type": "modal", "blocks": []}, "must be a valid enum value [json-pointer:/view/type]"),
        (
            "ana",
            {"type": "home", "blocks": [{"type": "divider"}] * 101},
            "no more than 100 items allowed [json-pointer:/view/blocks]",
        ),
    ],
)
async def test_views_publish_refuses_bad_views(
    slack: SlackEmulator, user: str, view: dict[str, Any], message: str
) -> None:
    user_id = slack.user_id(user) if user == "ana" else user
    refused = await error_of(web_client(slack).views_publish(user_id=user_id, view=view))
    assert refused["error"] == "invalid_arguments"
    assert refused["response_metadata"]["messages"] == [f"[ERROR] {message}"]


async def test_a_home_tab_needs_the_home_tab_enabled(slack: SlackEmulator) -> None:
    slack.home_tab_enabled = False
    refused = await error_of(
        web_client(slack).views_publish(user_id=slack.ana, view={"type": "home", "blocks": []})
    )
    assert refused["error"] == "not_enabled"


async def test_a_file_uploaded_without_a_channel_is_private_to_the_uploader(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    file_id = await private_png(slack)
    assert (await web_client(slack).files_info(file=file_id))["file"]["shares"] == {}
    ana = web_client(slack, token=slack.add_user_token("ana", {"files:read"}))
    assert (await error_of(ana.files_info(file=file_id)))["error"] == "file_not_found"
    url = slack.core.ws.files[file_id]
    url_private = f"{slack.base_url}files-pri/{slack.team_id}-{file_id}/{url.name}"
    async with http.get(url_private, headers={"Authorization": f"Bearer {slack.bot_token}"}) as resp:
        assert await resp.read() == PNG
    token = slack.add_user_token("ben", {"files:read"})
    async with http.get(url_private, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.content_type == "text/html"  # Slack's sign-in page: ben cannot see it


async def test_a_slack_file_image_shows_only_once_slack_has_processed_the_upload(
    slack: SlackEmulator,
) -> None:
    slack.file_processing_s = 3600.0
    file_id = await private_png(slack)
    client = web_client(slack)
    early = await error_of(client.views_publish(user_id=slack.ana, view=image_view({"id": file_id})))
    assert early["response_metadata"]["messages"] == [
        "[ERROR] invalid slack file [json-pointer:/view/blocks/1/slack_file]"
    ]
    slack.file_processing_s = 0.0
    ready = await private_png(slack, "ready.png")
    await client.views_publish(user_id=slack.ana, view=image_view({"id": ready}))
    tab = slack.home_tab(slack.ana)
    assert tab is not None and [i.alt_text for i in tab.images] == ["spend per day"]
    assert tab.images[0].file is not None and tab.images[0].file.data == PNG


async def test_slack_file_rules(slack: SlackEmulator) -> None:
    slack.file_processing_s = 0.0
    client = web_client(slack)
    png = await private_png(slack)
    csv = (await client.files_upload_v2(content="a,b\n1,2\n", filename="data.csv"))["file"]["id"]
    # Ana's image in a private channel the app is not in: the app has no access to it.
    secret = slack.add_channel("secret", private=True, bot_member=False)
    posted = await slack.post_message(slack.ana, secret, "mine", files=[("mine.png", PNG, None)])
    theirs = slack.core.ws.channels[secret].messages[posted].file_ids[0]
    url = f"{slack.base_url}files-pri/{slack.team_id}-{png}/chart.png"
    for ref in ({"id": png, "url": url}, {"id": csv}, {"id": theirs}, {"id": "F0NOPE000"}, {}):
        refused = await error_of(client.views_publish(user_id=slack.ana, view=image_view(ref)))
        assert refused["error"] == "invalid_arguments", ref
    await client.views_publish(user_id=slack.ana, view=image_view({"url": url}))
    # In a message the answer is invalid_blocks, with Slack's message in `errors`.
    bad = {"type": "image", "slack_file": {"id": csv}, "alt_text": "data"}
    refused = await error_of(client.chat_postMessage(channel=slack.general, text="x", blocks=[bad]))
    assert refused["error"] == "invalid_blocks"
    assert refused["errors"] == ["invalid slack file [json-pointer:/blocks/0/slack_file]"]
    no_alt = {"type": "image", "slack_file": {"id": png}}
    refused = await error_of(client.chat_postMessage(channel=slack.general, text="x", blocks=[no_alt]))
    assert refused["errors"] == ["missing required field: alt_text [json-pointer:/blocks/0]"]


async def test_files_delete(slack: SlackEmulator) -> None:
    slack.file_processing_s = 0.0
    client = web_client(slack)
    file_id = await private_png(slack)
    await client.views_publish(user_id=slack.ana, view=image_view({"id": file_id}))
    posted = await slack.post_message(slack.ana, slack.general, "mine", files=[("mine.png", PNG, None)])
    theirs = slack.core.ws.channels[slack.general].messages[posted].file_ids[0]
    assert (await error_of(client.files_delete(file=theirs)))["error"] == "cant_delete_file"
    await client.files_delete(file=file_id)
    assert (await error_of(client.files_delete(file=file_id)))["error"] == "file_deleted"
    assert (await error_of(client.files_info(file=file_id)))["error"] == "file_deleted"
    tab = slack.home_tab(slack.ana)
    assert tab is not None and tab.images[0].file is None  # the published view now shows nothing there
    refused = await error_of(client.views_publish(user_id=slack.ana, view=image_view({"id": file_id})))
    assert refused["error"] == "invalid_arguments"


async def test_a_button_press_names_the_pressers_own_organisation(slack: SlackEmulator) -> None:
    partner = slack.add_user("pat", team_id="T0PARTNER")
    posted = await web_client(slack).chat_postMessage(
        channel=slack.general,
        text="press",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
                ],
            }
        ],
    )
    await slack.post_message(partner, slack.general, "joining")
    slack.slash_ack_timeout_s = 0.1
    with pytest.raises(TimeoutError):  # no app is listening: the press is never acknowledged
        await slack.press_button(partner, slack.general, posted["ts"], "go")
    [press] = [e for e in slack.envelopes if e.type == "interactive"]
    assert press.payload["user"]["team_id"] == "T0PARTNER"
