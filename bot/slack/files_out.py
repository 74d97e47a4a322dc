"""Posting files into a thread with Slack's v2 upload flow, streamed from disk.

This is what `AsyncWebClient.files_upload_v2` does on the wire (slack-platform.md §4.1):
`files.getUploadURLExternal` per file, a raw POST of the bytes to the returned URL (no token), then
one `files.completeUploadExternal` that shares every file of the turn in one message. We make the
three calls ourselves because `files_upload_v2` reads each file whole into memory, on the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import ThreadKey
from bot.slack.rate_limits import RateBudget

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


async def upload_to_thread(
    client: AsyncWebClient,
    session: aiohttp.ClientSession,
    budget: RateBudget,
    key: ThreadKey,
    files: list[LocalFile],
    *,
    initial_comment: str | None = None,
) -> list[str]:
    """Upload `files` and share them in one message of the thread. Returns the Slack file ids.

    Raises `SlackApiError` (e.g. not_in_channel, missing_scope) or `UploadFailed`.
    """
    ids: list[dict[str, str | None]] = []
    for f in files:
        await budget.take("files.getUploadURLExternal")
        ticket = await client.files_getUploadURLExternal(filename=f.filename, length=f.size)
        with f.path.open("rb") as handle:
            async with session.post(
                str(ticket["upload_url"]),
                data=handle,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(f.size)},
            ) as resp:
                await resp.read()
                if resp.status != 200:
                    raise UploadFailed(resp.status)
        ids.append({"id": str(ticket["file_id"]), "title": f.title})
    await budget.take("files.completeUploadExternal")
    await client.files_completeUploadExternal(
        files=ids,
        channel_id=key.channel_id,
        thread_ts=key.thread_ts,
        initial_comment=initial_comment,
    )
    return [str(i["id"]) for i in ids]
