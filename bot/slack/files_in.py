"""Downloading Slack attachments as byte streams, with the limits enforced.

slack-platform.md §3: `url_private_download` needs the bot token (and `files:read`); without it Slack
answers HTTP 200 with an HTML sign-in page, which must not be mistaken for the file. Redirects are
followed by hand because aiohttp drops the Authorization header on a cross-origin redirect, and the
token is only ever sent to Slack's own hosts (plus the host of SLACK_API_URL, so the emulator works).

Nothing else is ever requested: a file URL (or a redirect) that names another host, or plain http
anywhere but the configured SLACK_API_URL host, is refused before any connection is made. File URLs
come from event payloads; fetching whatever they name, even without the token, would let a forged or
unexpected URL make the bot request internal addresses (server-side request forgery). Operators add
hosts Slack really uses for them with SLACK_FILE_HOSTS. Downloads ask for `Accept-Encoding: identity`,
so the size checks count the bytes that reach the sandbox, not a compressed transfer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import InboundFile
from bot.slack.errors import error_code
from bot.slack.safe_text import display_name

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
CHUNK = 1 << 20
SLACK_HOST_SUFFIXES = (".slack.com", ".slack-edge.com", ".slack-files.com")


class FileRejected(Exception):
    """An attachment that is not taken in; `user_message` names the file and the reason."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def is_slack_host(host: str, extra: frozenset[str]) -> bool:
    host = host.lower()
    return host in extra or host in ("slack.com", "slack-files.com") or host.endswith(SLACK_HOST_SUFFIXES)


def refusal(url: str, allowed_hosts: frozenset[str], plain_http_hosts: frozenset[str]) -> str | None:
    """Why the bot must not request `url` (None: it may). `plain_http_hosts`: hosts reachable over
    plain http, i.e. the configured SLACK_API_URL host when that is http (a local emulator)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "it has no host"
    if not is_slack_host(host, allowed_hosts):
        return f"its host {host} is not one of Slack's (an operator can allow it with SLACK_FILE_HOSTS)"
    if parts.scheme == "https" or (parts.scheme == "http" and host in plain_http_hosts):
        return None
    return f"it is not an https URL ({parts.scheme or 'no scheme'})"


def human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class SlackFileFetcher:
    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        *,
        token: str,
        allowed_hosts: frozenset[str],
        plain_http_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        self.session = session
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.plain_http_hosts = plain_http_hosts

    async def resolve(self, file: InboundFile) -> InboundFile:
        """Slack Connect sends `{id, file_access: "check_file_info"}` stubs: ask files.info."""
        if not file.stub and file.url:
            return file
        try:
            resp = await self.client.files_info(file=file.slack_file_id)
        except SlackApiError as exc:
            code = error_code(exc)
            if code == "missing_scope":
                raise FileRejected(
                    f"I couldn't read the file `{file.slack_file_id}`: the app lacks the `files:read` scope."
                ) from exc
            raise FileRejected(f"I couldn't look up a shared file ({code}).") from exc
        info = resp["file"]
        return InboundFile(
            slack_file_id=info["id"],
            name=display_name(str(info.get("name") or info.get("title") or info["id"])),
            mimetype=info.get("mimetype", ""),
            size=int(info.get("size", 0)),
            url=info.get("url_private_download") or info.get("url_private", ""),
        )

    @asynccontextmanager
    async def open(self, file: InboundFile, *, max_bytes: int) -> AsyncIterator[Download]:
        """The file's bytes as a stream, after every check that can be made before reading them."""
        if file.size > max_bytes:
            raise FileRejected(
                f"`{file.name}` is {human_size(file.size)}, over the {human_size(max_bytes)} limit per file, "
                "so I left it out."
            )
        url = file.url
        for _ in range(MAX_REDIRECTS + 1):
            refused = refusal(url, self.allowed_hosts, self.plain_http_hosts)
            if refused is not None:
                log.error("not downloading file %s: %s", file.slack_file_id, refused)
                raise FileRejected(f"I didn't download `{file.name}`: {refused}.")
            headers = {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "identity"}
            try:
                resp = await self.session.get(
                    url, headers=headers, allow_redirects=False, auto_decompress=False
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.error("downloading file %s from Slack failed: %r", file.slack_file_id, exc)
                raise FileRejected(_broke_off(file)) from exc
            async with resp:
                if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                    url = urljoin(url, resp.headers["Location"])
                    continue
                if resp.status != 200:
                    raise FileRejected(f"I couldn't download `{file.name}` from Slack (HTTP {resp.status}).")
                ctype = resp.headers.get("Content-Type", "")
                if ctype.startswith("text/html") and not file.mimetype.startswith("text/html"):
                    log.error(
                        "Slack served its sign-in page for file %s: the app lacks files:read or access to it",
                        file.slack_file_id,
                    )
                    raise FileRejected(
                        f"I couldn't download `{file.name}`: Slack sent its sign-in page instead of the file, "
                        "which means the app lacks the `files:read` permission or access to this file. Ask a "
                        "workspace admin to add `files:read` and reinstall the app."
                    )
                if resp.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
                    # Asked for identity: compressed bytes would pass the size checks and reach the
                    # sandbox as something other than the file.
                    log.error(
                        "file %s came with Content-Encoding %s",
                        file.slack_file_id,
                        resp.headers["Content-Encoding"],
                    )
                    raise FileRejected(
                        f"I couldn't download `{file.name}` as it is (Slack sent it compressed)."
                    )
                declared = resp.content_length
                if declared is not None and declared > max_bytes:
                    raise FileRejected(
                        f"`{file.name}` is {human_size(declared)}, over the {human_size(max_bytes)} limit per file, "
                        "so I left it out."
                    )
                yield Download(file, declared, _limited(resp, file, max_bytes))
                return
        raise FileRejected(f"I couldn't download `{file.name}`: too many redirects.")


@dataclass
class Download:
    """An open download: the size Slack declared (None when it did not) and the byte stream."""

    file: InboundFile
    size: int | None
    chunks: AsyncIterator[bytes]


def _broke_off(file: InboundFile) -> str:
    return f"I couldn't download `{file.name}` from Slack (the connection failed), so I left it out. Attach it again."


async def _limited(resp: aiohttp.ClientResponse, file: InboundFile, max_bytes: int) -> AsyncIterator[bytes]:
    total = 0
    try:
        async for chunk in resp.content.iter_chunked(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise FileRejected(
                    f"`{file.name}` is over the {human_size(max_bytes)} limit per file, so I left it out."
                )
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        # aiohttp raises ClientPayloadError when the body ends before its Content-Length.
        log.error(
            "the download of file %s from Slack broke off after %d bytes: %r", file.slack_file_id, total, exc
        )
        raise FileRejected(_broke_off(file)) from exc
