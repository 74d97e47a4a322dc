"""File bytes on disk, the raw upload URL, and `url_private(_download)` hosting with Slack's quirks.

Bytes never sit in memory: uploads stream to a temp dir, downloads are served with sendfile, files given
as a Path are hard-linked (or copied in a worker thread). Download rules follow §3: bytes only for a
`Bearer` token with `files:read` that can see the file; anything else gets HTTP 200 `text/html` with a
sign-in page. The redirect drills reproduce what breaks naive clients: aiohttp drops `Authorization` on
cross-origin redirects, and a presigned CDN must never receive the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import mimetypes
import os
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import BodyPartReader, web

from ..cut_short import serve_cut_short
from .models import DownloadRecord, FileRecord

if TYPE_CHECKING:
    from .core import Core

WRITE_BUFFER = 4 * 1024 * 1024
SNIPPET_MAX = 1024 * 1024

# extension -> (filetype, pretty_type) as Slack labels them
_TYPES: dict[str, tuple[str, str]] = {
    "txt": ("text", "Plain Text"),
    "csv": ("csv", "CSV"),
    "tsv": ("tsv", "TSV"),
    "py": ("python", "Python"),
    "json": ("json", "JSON"),
    "md": ("markdown", "Markdown (raw)"),
    "yaml": ("yaml", "YAML"),
    "yml": ("yaml", "YAML"),
    "sql": ("sql", "SQL"),
    "sh": ("shell", "Shell"),
    "html": ("html", "HTML"),
    "xml": ("xml", "XML"),
    "log": ("text", "Plain Text"),
    "png": ("png", "PNG"),
    "jpg": ("jpg", "JPEG"),
    "jpeg": ("jpg", "JPEG"),
    "gif": ("gif", "GIF"),
    "svg": ("svg", "SVG"),
    "webp": ("webp", "WebP"),
    "pdf": ("pdf", "PDF"),
    "zip": ("zip", "Zip"),
    "gz": ("gzip", "GZip"),
    "xlsx": ("xlsx", "Excel Spreadsheet"),
    "xls": ("xls", "Excel Spreadsheet"),
    "docx": ("docx", "Word Document"),
    "parquet": ("binary", "Binary"),
}
_TEXT_MIMES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-yaml",
    "application/yaml",
    "application/x-sh",
    "application/sql",
}
_EXTRA_MIMES = {"py": "text/x-python", "md": "text/markdown", "yaml": "text/yaml", "yml": "text/yaml"}

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en-US" class="supports_custom_scrollbar">
<head>
<meta charset="utf-8">
<title>Slack</title>
<meta name="robots" content="noindex, nofollow">
</head>
<body class="full_height">
<div id="page"><div id="page_contents">
<h1>Sign in to Acme Corp</h1>
<p>acme.slack.com</p>
<form id="signin_form" action="/" method="post">
<input type="email" name="email" placeholder="name@work-email.com">
<button type="submit" id="signin_btn">Sign in with Email</button></form>
</div></div>
</body>
</html>
"""


def guess_mimetype(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _EXTRA_MIMES:
        return _EXTRA_MIMES[ext]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or ("text/plain" if ext in ("txt", "log") else "application/octet-stream")


def classify(name: str, mimetype: str) -> tuple[str, str]:
    """(filetype, pretty_type) for a file name."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _TYPES:
        return _TYPES[ext]
    if mimetype.startswith("text/"):
        return "text", "Plain Text"
    return "binary", "Binary"


def is_text_like(mimetype: str) -> bool:
    return mimetype.startswith("text/") or mimetype in _TEXT_MIMES


class FileStore:
    """Where file bytes live, plus the single-use upload tickets of files.getUploadURLExternal."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tickets: dict[str, str] = {}  # upload ticket -> file id

    def path_for(self, file_id: str) -> Path:
        return self.root / file_id

    async def write_bytes(self, path: Path, data: bytes) -> int:
        await asyncio.to_thread(path.write_bytes, data)
        return len(data)

    async def import_path(self, path: Path, source: Path) -> int:
        """Link (or copy, off the loop) a caller's file: a 500 MB Path is never read into memory."""

        def link_or_copy() -> int:
            try:
                os.link(source, path)
            except OSError:
                shutil.copyfile(source, path)
            return path.stat().st_size

        return await asyncio.to_thread(link_or_copy)

    async def receive(self, path: Path, chunks: AsyncIterator[bytes]) -> int:
        """Stream an upload to disk, writing in ~4 MB batches from a worker thread."""
        handle = await asyncio.to_thread(path.open, "wb")
        total = 0
        pending: list[bytes] = []
        pending_size = 0
        try:
            async for chunk in chunks:
                pending.append(chunk)
                pending_size += len(chunk)
                total += len(chunk)
                if pending_size >= WRITE_BUFFER:
                    await asyncio.to_thread(handle.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(handle.write, b"".join(pending))
        finally:
            await asyncio.to_thread(handle.close)
        return total

    async def analyze(self, record: FileRecord) -> None:
        """Fill size, mode (snippet/hosted), preview/lines and image dimensions from the bytes on disk."""

        def work() -> None:
            record.size = record.path.stat().st_size
            with record.path.open("rb") as handle:
                head = handle.read(min(record.size, SNIPPET_MAX))
            if is_text_like(record.mimetype) and record.size <= SNIPPET_MAX:
                record.mode = "snippet"
                text = head.decode("utf-8", errors="replace")
                lines = text.split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                record.lines = len(lines)
                record.preview = "\n".join(lines[:5])
            else:
                record.mode = "hosted"
            if record.is_image:
                record.image_size = image_size(head)

        await asyncio.to_thread(work)


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF or JPEG header, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    if head.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(head):
            if head[index] != 0xFF:
                index += 1
                continue
            marker = head[index + 1]
            length = struct.unpack(">H", head[index + 2 : index + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", head[index + 5 : index + 9])
                return int(width), int(height)
            index += 2 + length
    return None


# ------------------------------------------------------------------ HTTP side
def _login_page() -> web.Response:
    # §3: Slack answers unauthorised file requests with 200 and an HTML sign-in page, not 401/403.
    return web.Response(status=200, text=LOGIN_PAGE, content_type="text/html", charset="utf-8")


def _file_id_from(request: web.Request) -> str | None:
    team_file = request.match_info.get("team_file", "")
    parts = team_file.split("-")
    return parts[1] if len(parts) >= 2 else None


def _authorised(core: Core, request: web.Request, record: FileRecord) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    token = core.ws.tokens.get(header.removeprefix("Bearer ").strip())
    if token is None or token.revoked or token.kind == "app" or "files:read" not in token.scopes:
        return False
    return record.uploaded and not record.deleted and core.ws.file_visible_to(record, token.user_id)


def _serve(record: FileRecord, *, attachment: bool) -> web.FileResponse:
    headers = {"Content-Type": record.mimetype}
    if attachment:
        headers["Content-Disposition"] = f'attachment; filename="{record.name}"'
    return web.FileResponse(record.path, headers=headers)


def presign(core: Core, file_id: str) -> str:
    return hmac.new(core.signing_secret.encode(), f"cdn:{file_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _record(
    core: Core, request: web.Request, host: str, file_id: str | None, status: int, served: bool
) -> None:
    core.downloads.append(
        DownloadRecord(host, request.path_qs, file_id, status, served, request.headers.get("Authorization"))
    )
    core.notify()


async def handle_file(core: Core, request: web.Request, host: str) -> web.StreamResponse:
    """`GET /files-pri/T…-F…/[download/]name` on the primary host or the second Slack host."""
    file_id = _file_id_from(request)
    record = core.ws.files.get(file_id or "")
    redirect = core.settings.file_redirect
    if host == "primary" and redirect == "slack_host":
        # files.slack.com -> files-origin.slack.com style hop: another origin that also wants the token.
        _record(core, request, host, file_id, 302, False)
        raise web.HTTPFound(core.alt_file_base + request.path_qs.lstrip("/"))
    if record is None or not _authorised(core, request, record):
        _record(core, request, host, file_id, 200, False)
        return _login_page()
    if host == "primary" and redirect == "foreign_host":
        # A presigned CDN URL on a different host name: it needs (and must never see) no token.
        _record(core, request, host, file_id, 302, False)
        location = (
            f"{core.foreign_file_base}presigned/{record.id}/{record.name}?sig={presign(core, record.id)}"
        )
        raise web.HTTPFound(location)
    _record(core, request, host, file_id, 200, True)
    if core.cut_downloads:
        headers = {"Content-Type": record.mimetype}
        return await serve_cut_short(request, record.path, headers, core.cut_downloads.popleft())
    return _serve(record, attachment="/download/" in request.path)


async def handle_thumb(core: Core, request: web.Request) -> web.StreamResponse:
    """Thumbnails: the emulator serves the original image under the same access rules."""
    file_id = _file_id_from(request)
    record = core.ws.files.get(file_id or "")
    if record is None or not _authorised(core, request, record):
        _record(core, request, "primary", file_id, 200, False)
        return _login_page()
    _record(core, request, "primary", file_id, 200, True)
    return _serve(record, attachment=False)


async def handle_presigned(core: Core, request: web.Request) -> web.StreamResponse:
    """The foreign CDN host: serves bytes without auth, and records every Authorization it receives."""
    authorization = request.headers.get("Authorization")
    core.foreign_auth_headers.append(authorization)
    file_id = request.match_info["file_id"]
    record = core.ws.files.get(file_id)
    if record is None or not hmac.compare_digest(request.query.get("sig", ""), presign(core, file_id)):
        _record(core, request, "foreign", file_id, 403, False)
        return web.Response(status=403, text="AccessDenied", content_type="application/xml")
    _record(core, request, "foreign", file_id, 200, True)
    return _serve(record, attachment=True)


async def handle_upload(core: Core, request: web.Request) -> web.Response:
    """`POST /upload/v1/<ticket>`: raw bytes or multipart `file`, no auth; answers `200 "OK - n"` (§4.1)."""
    file_id = core.files.tickets.get(request.match_info["ticket"])
    record = core.ws.files.get(file_id or "")
    if record is None or record.completed:
        return web.Response(status=404, text="upload url not found", content_type="text/plain")
    if request.content_type.startswith("multipart/"):
        size = await _receive_multipart(core, request, record)
    else:
        size = await core.files.receive(record.path, request.content.iter_chunked(1024 * 1024))
    record.uploaded = True
    record.size = size
    core.notify()
    return web.Response(status=200, text=f"OK - {size}", content_type="text/plain")


async def _receive_multipart(core: Core, request: web.Request, record: FileRecord) -> int:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name in ("file", "filename") and part.filename:

            async def chunks(body: BodyPartReader = part) -> AsyncIterator[bytes]:
                while chunk := await body.read_chunk(1024 * 1024):
                    yield chunk

            return await core.files.receive(record.path, chunks())
    return await core.files.receive(record.path, _empty())


async def _empty() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk
