"""Files through the Slack emulator: files_upload_v2, files.info, url_private downloads and redirects."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from emulators.slack.testing import web_client

PNG_1200x800 = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I4sII", 13, b"IHDR", 1200, 800)
    + b"\x08\x06\x00\x00\x00"
    + b"\0" * 64
)
CHUNK = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _upload_thread(slack: SlackEmulator) -> tuple[str, dict[str, object]]:
    root = await slack.post_message(slack.ana, slack.general, "plot it", mention_bot=True)
    response = await web_client(slack).files_upload_v2(
        file_uploads=[
            {"content": "a,b\n1,2\n3,4\n", "filename": "cleaned.csv", "title": "Cleaned data"},
            {"file": PNG_1200x800, "filename": "growth.png"},
        ],
        channel=slack.general,
        thread_ts=root,
        initial_comment="Here are your files",
    )
    return root, response.data  # type: ignore[return-value]


async def test_files_upload_v2_posts_one_message_with_all_files(slack: SlackEmulator) -> None:
    root, response = await _upload_thread(slack)
    files = response["files"]
    assert isinstance(files, list) and len(files) == 2
    assert all(f["shares"] == {} and f["channels"] == [] for f in files)  # sharing is asynchronous (§4.1)
    [reply] = slack.bot_replies(slack.general, root)
    assert reply.text == "Here are your files"
    assert [(f.name, f.mimetype, f.is_image) for f in reply.files] == [
        ("cleaned.csv", "text/csv", False),
        ("growth.png", "image/png", True),
    ]
    assert reply.files[0].data == b"a,b\n1,2\n3,4\n"
    assert reply.files[0].title == "Cleaned data"
    upload_calls = [c.method for c in slack.calls if c.method.startswith("files.")]
    assert upload_calls == ["files.getUploadURLExternal"] * 2 + ["files.completeUploadExternal"]
    assert slack.calls_to("files.getUploadURLExternal")[0].params["length"] == "12"  # query params on POST
    echo = [e for e in slack.events("message") if e.payload["event"].get("bot_id") == slack.bot_id]
    assert echo and echo[-1].payload["event"]["thread_ts"] == root


async def test_files_info_shows_shares_and_file_modes(slack: SlackEmulator) -> None:
    root, response = await _upload_thread(slack)
    files = response["files"]
    assert isinstance(files, list)
    csv = (await web_client(slack).files_info(file=files[0]["id"]))["file"]
    png = (await web_client(slack).files_info(file=files[1]["id"]))["file"]
    assert (csv["mode"], csv["filetype"], csv["lines"]) == ("snippet", "csv", 3)
    assert (png["mode"], png["filetype"], png["size"]) == ("hosted", "png", len(PNG_1200x800))
    [share] = png["shares"]["public"][slack.general]
    assert share["thread_ts"] == root and share["share_user_id"] == slack.bot_user_id
    assert png["channels"] == [slack.general] and png["is_public"] is True


async def test_upload_errors(slack: SlackEmulator, http: aiohttp.ClientSession) -> None:
    client = web_client(slack)
    with pytest.raises(SlackApiError, match="missing_argument"):
        await client.files_getUploadURLExternal(filename="empty.txt", length=0)
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(files=[{"id": "F0NOPE123"}], channel_id=slack.general)
    ticket = await client.files_getUploadURLExternal(filename="x.txt", length=1)
    async with http.post(ticket["upload_url"], data=b"x") as answer:
        assert (answer.status, await answer.text()) == (200, "OK - 1")
        assert answer.content_type == "text/plain"
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id=slack.random)
    with pytest.raises(SlackApiError, match="invalid_thread_ts"):
        await client.files_completeUploadExternal(
            files=[{"id": ticket["file_id"]}], channel_id=slack.general, thread_ts="1.000001"
        )


async def test_download_requires_token_with_files_read(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    ts = await slack.post_message(slack.ana, slack.general, "data", files=[("data.csv", b"x,y\n1,2\n", None)])
    event = slack.events("message")[-1].payload["event"]
    assert event["ts"] == ts and event["subtype"] == "file_share"
    url = event["files"][0]["url_private_download"]
    assert url.startswith(slack.base_url)
    async with http.get(url, headers=_bearer(slack.bot_token)) as good:
        assert good.status == 200 and await good.read() == b"x,y\n1,2\n"
        assert good.content_type == "text/csv"
    async with http.get(url) as anonymous:
        assert anonymous.status == 200 and anonymous.content_type == "text/html"
        assert "<!DOCTYPE html>" in await anonymous.text()
    slack.set_scopes(slack.bot_token, ["chat:write", "channels:history"])
    async with http.get(url, headers=_bearer(slack.bot_token)) as no_scope:
        assert no_scope.status == 200 and no_scope.content_type == "text/html"


async def test_zero_byte_file(slack: SlackEmulator, http: aiohttp.ClientSession) -> None:
    await slack.post_message(slack.ana, slack.general, "empty", files=[("empty.txt", b"", None)])
    file = slack.events("message")[-1].payload["event"]["files"][0]
    assert file["size"] == 0
    async with http.get(file["url_private_download"], headers=_bearer(slack.bot_token)) as response:
        assert (
            response.status == 200 and response.content_type == "text/plain" and await response.read() == b""
        )


async def test_slack_host_redirect_needs_the_token_again(
    slack: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    await slack.post_message(slack.ana, slack.general, "f", files=[("a.bin", b"\x00\x01\x02", None)])
    url = slack.events("message")[-1].payload["event"]["files"][0]["url_private_download"]
    slack.file_redirect = "slack_host"
    async with http.get(url, headers=_bearer(slack.bot_token)) as naive:
        # aiohttp drops Authorization on a cross-origin redirect (§3), so naive clients get the login page
        assert naive.content_type == "text/html"
    async with http.get(url, headers=_bearer(slack.bot_token), allow_redirects=False) as hop:
        assert hop.status == 302
        location = hop.headers["Location"]
    assert not location.startswith(slack.base_url)
    async with http.get(location, headers=_bearer(slack.bot_token)) as second:
        assert await second.read() == b"\x00\x01\x02"


async def test_foreign_host_never_sees_the_token(slack: SlackEmulator, http: aiohttp.ClientSession) -> None:
    await slack.post_message(slack.ana, slack.general, "f", files=[("b.bin", b"cdn bytes", None)])
    url = slack.events("message")[-1].payload["event"]["files"][0]["url_private_download"]
    slack.file_redirect = "foreign_host"
    async with http.get(url, allow_redirects=False) as unauthorised:
        assert unauthorised.status == 200 and unauthorised.content_type == "text/html"
    async with http.get(url, headers=_bearer(slack.bot_token), allow_redirects=False) as hop:
        assert hop.status == 302
        location = hop.headers["Location"]
    assert location.startswith("http://localhost:")
    async with http.get(location) as cdn:
        assert await cdn.read() == b"cdn bytes"
    assert slack.foreign_host_auth_headers == [None]
    async with http.get(location, headers=_bearer(slack.bot_token)) as leaky:
        assert leaky.status == 200
    assert slack.foreign_host_auth_headers == [None, f"Bearer {slack.bot_token}"]


async def test_connect_stubs_resolve_through_files_info(slack: SlackEmulator) -> None:
    await slack.post_message(
        slack.ana,
        slack.general,
        "shared from another org",
        files=[("r.txt", b"hello", None)],
        connect_stubs=True,
    )
    [stub] = slack.events("message")[-1].payload["event"]["files"]
    assert stub == {"id": stub["id"], "file_access": "check_file_info"}
    info = (await web_client(slack).files_info(file=stub["id"]))["file"]
    assert info["name"] == "r.txt" and info["size"] == 5


async def test_big_files_stream_through_disk(
    slack: SlackEmulator, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    size = 64 * CHUNK
    source = tmp_path / "big.parquet"
    with source.open("wb") as handle:
        handle.truncate(size)
        handle.seek(size // 2)
        handle.write(b"middle")
    await slack.post_message(slack.ana, slack.general, "big one", files=[("big.parquet", source, None)])
    file = slack.events("message")[-1].payload["event"]["files"][0]
    assert file["size"] == size and file["mode"] == "hosted"
    digest = hashlib.sha256()
    received = 0
    async with http.get(file["url_private_download"], headers=_bearer(slack.bot_token)) as response:
        async for chunk in response.content.iter_chunked(CHUNK):
            digest.update(chunk)
            received += len(chunk)
    expected = hashlib.sha256()
    with source.open("rb") as reader:
        while block := reader.read(CHUNK):
            expected.update(block)
    assert received == size and digest.hexdigest() == expected.hexdigest()

    ticket = await web_client(slack).files_getUploadURLExternal(filename="out.bin", length=size)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"\xab" * CHUNK

    async with http.post(ticket["upload_url"], data=body()) as answer:
        assert await answer.text() == f"OK - {size}"
    assert slack.core.ws.files[ticket["file_id"]].path.stat().st_size == size
