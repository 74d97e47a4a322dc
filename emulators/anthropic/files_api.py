"""Files API (reference §5): upload, metadata, list, download, delete — bodies streamed via disk.

Uploads are written to disk in chunks off the event loop (hash + write in a worker thread), so a
500 MB upload never sits in memory; downloads use ``FileResponse`` (``sendfile``). Files produced by
code execution are registered here with ``downloadable: true``; uploads are ``downloadable: false``
and their download is a 400 with ``error.details.error_code: "file_not_downloadable"`` (the SDK's
``FileNotDownloadableError``).

List shapes: GA ``{data, next_page}`` with ``limit``/``page``/``ids`` (``SyncPageCursor``); with the
old ``files-api-2025-04-14`` beta header ``{data, has_more, first_id, last_id}`` with
``before_id``/``after_id`` and no ``expires_at`` (§5).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import mimetypes
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web

from ..cut_short import serve_cut_short
from . import ids
from .errors import ApiError, invalid_request, not_found

LEGACY_FILES_BETA = "files-api-2025-04-14"
MIN_EXPIRES_IN_S = 3600
MAX_EXPIRES_IN_S = 7_776_000
_WRITE_CHUNK = 4 << 20
_MULTIPART_SLACK = 64 << 10
_BAD_FILENAME = re.compile(r'[<>:"|?*\\/\x00-\x1f\x7f]')


@dataclass
class StoredFile:
    id: str
    filename: str
    mime_type: str
    size_bytes: int
    created_at: float
    downloadable: bool
    path: Path
    sha256: str
    seq: int
    expires_at: float | None = None

    def metadata(self, *, legacy: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "created_at": ids.rfc3339(self.created_at),
            "downloadable": self.downloadable,
        }
        if not legacy:
            body["expires_at"] = ids.rfc3339(self.expires_at) if self.expires_at is not None else None
        return body


def guess_mime(filename: str) -> str:
    mime, _ = mimetypes.guess_type(filename)
    return mime or "application/octet-stream"


def validate_filename(name: str | None) -> str:
    if not name or len(name) > 255 or _BAD_FILENAME.search(name):
        raise invalid_request(
            'filename: must be 1-255 characters and must not contain any of <>:"|?*\\/ or control characters'
        )
    return name


class _Sink:
    """Disk file + running sha256, written from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hash = hashlib.sha256()
        self.fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in finish()/abort()

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.fh.write(data)

    def finish(self) -> None:
        self.fh.close()

    def abort(self) -> None:
        self.fh.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class FileStore:
    def __init__(self, root: Path, max_file_bytes: Callable[[], int]) -> None:
        self.root = root
        self.files: dict[str, StoredFile] = {}
        self._max_file_bytes = max_file_bytes
        self._seq = itertools.count(1)
        # Byte counts after which the next content downloads break off (see serve_cut_short).
        self.cut_short: deque[int] = deque()

    def get(self, file_id: str) -> StoredFile:
        f = self.files.get(file_id)
        if f is None:
            raise not_found(f"File not found: {file_id}")
        return f

    async def register_generated(self, src: Path) -> StoredFile:
        """Adopt a file code execution left at the top level of $OUTPUT_DIR (moved, not copied)."""
        fid = ids.file_id()
        dest = self.root / fid

        def move_and_hash() -> tuple[int, str]:
            shutil.move(src, dest)
            h = hashlib.sha256()
            with open(dest, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            return dest.stat().st_size, h.hexdigest()

        size, digest = await asyncio.to_thread(move_and_hash)
        f = StoredFile(
            fid, src.name, guess_mime(src.name), size, time.time(), True, dest, digest, next(self._seq)
        )
        self.files[fid] = f
        return f

    async def copy_into(self, file_id: str, dest_dir: Path) -> str:
        """Materialise a file in a container (a copy: the container may modify it, the upload not)."""
        f = self.get(file_id)
        dest = dest_dir / f.filename
        await asyncio.to_thread(shutil.copyfile, f.path, dest)
        return f.filename

    # -- HTTP handlers ------------------------------------------------------------------------------
    async def upload(self, request: web.Request) -> dict[str, Any]:
        limit = self._max_file_bytes()
        if request.content_length is not None and request.content_length > limit + _MULTIPART_SLACK:
            raise ApiError(413)
        if not request.content_type.startswith("multipart/"):
            raise invalid_request("Content-Type must be multipart/form-data")
        reader = await request.multipart()
        stored: StoredFile | None = None
        expires_in: int | None = None
        try:
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "file" and stored is None:
                    stored = await self._receive(part, limit)
                elif part.name == "expires_in_seconds":
                    expires_in = _parse_expires_in(await part.text())
                else:
                    await part.release()
        except BaseException:
            if stored is not None:
                self._drop(stored)
            raise
        if stored is None:
            raise invalid_request("file: Field required")
        if expires_in is not None:
            stored.expires_at = stored.created_at + expires_in
        self.files[stored.id] = stored
        return stored.metadata(legacy=_legacy(request))

    async def _receive(self, part: BodyPartReader, limit: int) -> StoredFile:
        filename = validate_filename(part.filename)
        declared = part.headers.get("Content-Type", "")
        mime = declared.split(";")[0].strip() if declared else ""
        if not mime or mime == "application/octet-stream":
            mime = guess_mime(filename)
        fid = ids.file_id()
        path = self.root / fid
        sink = await asyncio.to_thread(_Sink, path)
        size = 0
        buf = bytearray()
        try:
            while chunk := await part.read_chunk(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413)
                buf += chunk
                if len(buf) >= _WRITE_CHUNK:
                    data, buf = bytes(buf), bytearray()
                    await asyncio.to_thread(sink.write, data)
            if buf:
                await asyncio.to_thread(sink.write, bytes(buf))
            await asyncio.to_thread(sink.finish)
        except BaseException:
            await asyncio.to_thread(sink.abort)
            raise
        return StoredFile(
            fid, filename, mime, size, time.time(), False, path, sink.hash.hexdigest(), next(self._seq)
        )

    def _drop(self, f: StoredFile) -> None:
        self.files.pop(f.id, None)
        with contextlib.suppress(OSError):
            os.unlink(f.path)

    def retrieve(self, request: web.Request) -> dict[str, Any]:
        return self.get(request.match_info["file_id"]).metadata(legacy=_legacy(request))

    async def content(self, request: web.Request) -> web.StreamResponse:
        f = self.get(request.match_info["file_id"])
        if not f.downloadable:
            raise invalid_request(f"File {f.id} is not downloadable.", error_code="file_not_downloadable")
        if f.expires_at is not None and time.time() >= f.expires_at:
            raise ApiError(404, f"File {f.id} has expired.", details={"error_code": "file_expired"})
        headers = {"Content-Type": f.mime_type, "Content-Disposition": f'attachment; filename="{f.filename}"'}
        if self.cut_short:
            return await serve_cut_short(request, f.path, headers, self.cut_short.popleft())
        return web.FileResponse(f.path, headers=headers)

    async def delete(self, request: web.Request) -> dict[str, Any]:
        f = self.get(request.match_info["file_id"])
        self.files.pop(f.id, None)
        await asyncio.to_thread(_unlink, f.path)
        return {"id": f.id, "type": "file_deleted"}

    def list_page(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        legacy = _legacy(request)
        ordered = sorted(self.files.values(), key=lambda f: f.seq, reverse=True)  # newest first
        wanted = [v for k in ("ids[]", "ids") for v in q.getall(k, []) for v in v.split(",") if v]
        if wanted:
            if "page" in q or "limit" in q:
                raise invalid_request("ids: cannot be combined with `page` or `limit`")
            if len(set(wanted)) > 100:
                raise invalid_request("ids: at most 100 ids may be given")
            chosen = [f for f in ordered if f.id in set(wanted)]
            return {"data": [f.metadata(legacy=legacy) for f in chosen], "next_page": None}
        limit = _parse_limit(q.get("limit"))
        if legacy:
            return self._legacy_page(ordered, limit, q.get("before_id"), q.get("after_id"))
        page = q.get("page")
        if page:
            try:
                after_seq = int(page.removeprefix("page_"))
            except ValueError:
                raise invalid_request("page: invalid page cursor") from None
            ordered = [f for f in ordered if f.seq < after_seq]
        data = ordered[:limit]
        more = len(ordered) > limit
        return {
            "data": [f.metadata() for f in data],
            "next_page": ids.page_cursor(str(data[-1].seq)) if more and data else None,
        }

    @staticmethod
    def _legacy_page(
        ordered: list[StoredFile], limit: int, before_id: str | None, after_id: str | None
    ) -> dict[str, Any]:
        pos = {f.id: i for i, f in enumerate(ordered)}
        if after_id is not None:
            ordered = ordered[pos.get(after_id, -1) + 1 :]
        elif before_id is not None:
            ordered = ordered[: pos.get(before_id, 0)][-limit:]
        data = ordered[:limit]
        return {
            "data": [f.metadata(legacy=True) for f in data],
            "has_more": len(ordered) > limit,
            "first_id": data[0].id if data else None,
            "last_id": data[-1].id if data else None,
        }


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _legacy(request: web.Request) -> bool:
    return LEGACY_FILES_BETA in request.headers.get("anthropic-beta", "")


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request("limit: Input should be a valid integer") from None
    if not 1 <= value <= 1000:
        raise invalid_request("limit: Input should be between 1 and 1000")
    return value


def _parse_expires_in(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request("expires_in_seconds: Input should be a valid integer") from None
    if value < MIN_EXPIRES_IN_S:
        raise invalid_request(
            f"expires_in_seconds: Input should be greater than or equal to {MIN_EXPIRES_IN_S}"
        )
    if value > MAX_EXPIRES_IN_S:
        raise invalid_request(f"expires_in_seconds: Input should be less than or equal to {MAX_EXPIRES_IN_S}")
    return value
