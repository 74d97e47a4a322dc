"""What one request may show: image dimensions and counts, PDF pages (400 ``invalid_request_error``).

Limits, from Anthropic's docs (README "Request validation" cites them): up to 100 images per request
for models with a 200k-token context window (600 otherwise); an image over 8000 px a side is
rejected, and over 2000 px when the request holds more than 20 images; PDFs may have 100 pages per
request in all below a 1M-token context window (600 from 1M). Every image and PDF in the request
counts, old turns included: that is why a history that keeps them fails on every request once it is
over a limit (anthropics/claude-code#6231, #49720).

Sizes and pages are read from the real bytes: Files API uploads on the emulator's disk (cached per
file id, files never change) and base64 sources. URL sources are not fetched (README LIMITS).
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from .errors import invalid_request
from .files_api import FileStore
from .messages import ParsedRequest

# The emulator only reads sizes, never pixels: Pillow's decompression-bomb guard would refuse to open
# (and so to size) the very images the API must reject for their dimensions.
Image.MAX_IMAGE_PIXELS = None

MAX_SIDE = 8000
MANY_IMAGES = 20
MANY_IMAGES_SIDE = 2000
LONG_CONTEXT = 1_000_000


def max_images(context_window: int) -> int:
    return 600 if context_window >= LONG_CONTEXT else 100


def max_pdf_pages(context_window: int) -> int:
    return 600 if context_window >= LONG_CONTEXT else 100


@dataclass(frozen=True)
class _Visual:
    loc: str  # messages.<i>.content.<j>[.content.<k>]
    kind: str  # "image" or "pdf"
    source: str  # the source type: "file", "base64", "url", ...
    key: str  # file id, or the base64 data


def _visuals(parsed: ParsedRequest) -> Iterator[_Visual]:
    """Every image and PDF document of the request, in order, those inside tool results included."""
    for i, msg in enumerate(parsed.messages):
        for j, block in enumerate(msg["content"]):
            yield from _one(block, f"messages.{i}.content.{j}")
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for k, part in enumerate(block["content"]):
                    yield from _one(part, f"messages.{i}.content.{j}.content.{k}")


def _one(block: Any, loc: str) -> Iterator[_Visual]:
    if not isinstance(block, dict) or block.get("type") not in ("image", "document"):
        return
    source = block.get("source") or {}
    kind = str(source.get("type", ""))
    if block["type"] == "image":
        yield _Visual(loc, "image", kind, str(source.get("file_id") or source.get("data") or ""))
    elif kind == "file" or (kind == "base64" and source.get("media_type") == "application/pdf"):
        yield _Visual(loc, "pdf", kind, str(source.get("file_id") or source.get("data") or ""))


def _source_loc(v: _Visual) -> str:
    # Recorded: `….image.source.base64.data` (anthropics/claude-code#5147) and
    # `….pdf.source.base64.data` (warpdotdev/warp#8114). For file sources the location is UNCERTAIN.
    field = "file_id" if v.source == "file" else "data"
    return f"{v.loc}.{v.kind}.source.{v.source}.{field}"


class VisualLimits:
    def __init__(self, files: FileStore) -> None:
        self.files = files
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._pages: dict[str, int | None] = {}

    async def check(self, parsed: ParsedRequest, context_window: int) -> None:
        found = [v for v in _visuals(parsed) if v.source in ("file", "base64")]
        if not found:
            return
        images = [v for v in found if v.kind == "image"]
        if len(images) > max_images(context_window):
            raise invalid_request(
                f"messages: A maximum of {max_images(context_window)} images may be provided in one request."
            )
        sizes = await asyncio.to_thread(lambda: [self._size(v) for v in images])
        for v, size in zip(images, sizes, strict=True):
            if size is None:
                raise invalid_request(f"{_source_loc(v)}: Could not process image")
        limit, many = (MANY_IMAGES_SIDE, True) if len(images) > MANY_IMAGES else (MAX_SIDE, False)
        over = [v for v, size in zip(images, sizes, strict=True) if size and max(size) > limit]
        if over:
            qualifier = " for many-image requests" if many else ""
            raise invalid_request(
                f"{_source_loc(over[0])}: At least one of the image dimensions exceed max allowed size"
                f"{qualifier}: {limit} pixels",
                error_code="image_dimensions_too_large",
                max_side_length_pixels=limit,
                paths=[v.loc for v in over],
            )
        await self._check_pages([v for v in found if v.kind == "pdf"], max_pdf_pages(context_window))

    async def _check_pages(self, pdfs: list[_Visual], limit: int) -> None:
        if not pdfs:
            return
        counts = await asyncio.to_thread(lambda: [self._page_count(v) for v in pdfs])
        total = 0
        for v, pages in zip(pdfs, counts, strict=True):
            total += pages or 0
            if total > limit:
                raise invalid_request(f"{_source_loc(v)}: A maximum of {limit} PDF pages may be provided.")

    # -- reading the bytes (worker thread) ----------------------------------------------------------
    def _path(self, file_id: str) -> Path | None:
        stored = self.files.files.get(file_id)
        return stored.path if stored is not None else None

    def _size(self, v: _Visual) -> tuple[int, int] | None:
        if v.source == "file":
            if v.key not in self._sizes:
                path = self._path(v.key)
                self._sizes[v.key] = _image_size(path.open("rb")) if path is not None else None
            return self._sizes[v.key]
        return _image_size(io.BytesIO(_decoded(v.key)))

    def _page_count(self, v: _Visual) -> int | None:
        if v.source == "file":
            if v.key not in self._pages:
                path = self._path(v.key)
                self._pages[v.key] = _pdf_pages(path.open("rb")) if path is not None else None
            return self._pages[v.key]
        return _pdf_pages(io.BytesIO(_decoded(v.key)))


def _decoded(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except ValueError:
        return b""


def _image_size(stream: Any) -> tuple[int, int] | None:
    """Pillow reads the header only (the pixels are decoded lazily, never here)."""
    with stream:
        try:
            with Image.open(stream) as image:
                return (int(image.width), int(image.height))
        except (UnidentifiedImageError, OSError, ValueError):
            return None


def _pdf_pages(stream: Any) -> int | None:
    with stream:
        try:
            return len(PdfReader(stream).pages)
        except (PdfReadError, OSError, ValueError):
            return None
