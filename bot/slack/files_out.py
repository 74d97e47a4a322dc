"""Posting files into a thread with Slack's v2 upload flow, streamed from disk.

This is what `AsyncWebClient.files_upload_v2` does on the wire (slack-platform.md §4.1):
`files.getUploadURLExternal` per file, a raw POST of the bytes to the returned URL (no token), then
one `files.completeUploadExternal` that shares every file of the turn in one message. We make the
three calls ourselves because `files_upload_v2` reads each file whole into memory, on the event loop.

Two of Slack's rules would otherwise fail every file of a turn for one of them: an empty file cannot
be uploaded (`length` must be at least 1, `missing_argument`: docs.slack.dev/reference/methods/
files.getUploadURLExternal), so it is left out and named; and names are cut to 255 UTF-8 bytes
(a name of emoji is four bytes a character), without the characters that would disguise them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import ThreadKey
from bot.slack.rate_limits import RateBudget
from bot.slack.safe_text import slack_file_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    filename: str
    title: str
    size: int


class UploadFailed(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"upload URL answered HTTP {status}")
        self.status = status


@dataclass
class Uploaded:
    file_ids: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # names of files left out for having no bytes


def slack_names(files: list[LocalFile]) -> list[LocalFile]:
    """The files under names Slack takes and people can trust, unique within the message."""
    out: list[LocalFile] = []
    for f in files:
        name = slack_file_name(f.filename, [o.filename for o in out])
        title = slack_file_name(f.title) if f.title != f.filename else name
        out.append(LocalFile(f.path, name, title, f.size))
    return out


async def upload_to_thread(
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
    budget: RateBudget,
    key: ThreadKey,
    files: list[LocalFile],
    *,
    initial_comment: str | None = None,
) -> Uploaded:
    """Upload `files` and share them in one message of the thread (empty ones are left out).

    Raises `SlackApiError` (e.g. not_in_channel, missing_scope) or `UploadFailed`.
    """
    done = Uploaded()
    ids: list[dict[str, str | None]] = []
    for f in slack_names(files):
        if f.size == 0:
            done.empty.append(f.filename)
            continue
        with f.path.open("rb") as handle:
            file_id = await _send(client, session, budget, f.filename, f.size, handle)
        ids.append({"id": file_id, "title": f.title})
    if not ids:
        return done
    await budget.take("files.completeUploadExternal")
    await client.files_completeUploadExternal(
        files=ids,
        channel_id=key.channel_id,
        thread_ts=key.thread_ts,
        initial_comment=initial_comment,
    )
    done.file_ids = [str(i["id"]) for i in ids]
    return done


async def upload_private(
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
    budget: RateBudget,
    filename: str,
    data: bytes,
    *,
    title: str,
) -> str:
    """Upload a small file without sharing it anywhere (the Home tab's chart): completed with no
    channel, it stays private to the app, which may still show it in its own image blocks
    (slackapi/bolt-python#1018). Returns its id. Raises like `upload_to_thread`."""
    file_id = await _send(client, session, budget, filename, len(data), data)
    await budget.take("files.completeUploadExternal")
    await client.files_completeUploadExternal(files=[{"id": file_id, "title": title}])
    return file_id


async def _send(
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
    budget: RateBudget,
    filename: str,
    length: int,
    body: BinaryIO | bytes,
) -> str:
    """Get an upload URL and POST the bytes to it (no token goes there); the file's id."""
    await budget.take("files.getUploadURLExternal")
    ticket = await client.files_getUploadURLExternal(filename=filename, length=length)
    async with session.post(
        str(ticket["upload_url"]),
        data=body,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
    ) as resp:
        await resp.read()
        if resp.status != 200:
            raise UploadFailed(resp.status)
    return str(ticket["file_id"])
