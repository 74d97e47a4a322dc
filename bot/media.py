"""What the bot must know about an attachment before showing it to Claude: an image's size in pixels,
a PDF's number of pages. The Messages API rejects a request with an image over 8000 px a side, or
over 2000 px when it holds more than 20 images, and one with more PDF pages than its limit (Anthropic
docs: "Vision", "PDF support").

Both are read from the file's own bytes, never decoded: a few header fields for images, the page tree
for PDFs. The functions are pure, over any buffer (the engine passes a memory map of the spooled copy,
so a large file is not read into memory), and answer None when they cannot tell; the caller then
treats the file as one it cannot show.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Buffer = bytes | bytearray | mmap.mmap


@dataclass(frozen=True)
class Facts:
    width: int | None = None
    height: int | None = None
    pages: int | None = None


def read_facts(path: Path, mimetype: str, *, max_pdf_bytes: int) -> Facts:
    """The size of an image or the pages of a PDF (up to `max_pdf_bytes`) stored at `path`, through a
    memory map. Blocking: call it in a worker thread."""
    is_pdf = mimetype == "application/pdf"
    if not (mimetype.startswith("image/") or is_pdf):
        return Facts()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0 or (is_pdf and size > max_pdf_bytes):
            return Facts()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if is_pdf:
                return Facts(pages=pdf_page_count(data))
            found = image_size(data)
            return Facts(*found) if found else Facts()


# JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other segments.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})


def image_size(data: Buffer) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG, GIF or WebP image (the formats the API takes), from its header."""
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        return _positive(*struct.unpack(">II", head[16:24]))
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return _positive(*struct.unpack("<HH", head[6:10]))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        return _webp_size(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy: key frame start code, then the size
        width, height = struct.unpack("<HH", head[26:30])
        return _positive(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14 bits each, minus one
        bits = int.from_bytes(head[21:25], "little")
        return (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, minus one
        return (1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little"))
    return None


def _jpeg_size(data: Buffer) -> tuple[int, int] | None:
    """Walks the segments to the first start-of-frame: only their 4-byte headers are read, so big
    EXIF or ICC segments before it cost nothing."""
    at, end = 2, len(data)
    while at + 4 <= end:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in _SOF:
            if at + 9 > end:
                return None
            height, width = struct.unpack(">HH", bytes(data[at + 5 : at + 9]))
            return _positive(width, height)
        if marker == 0xDA:  # start of scan without a frame header: not an image we can size
            return None
        (length,) = struct.unpack(">H", bytes(data[at + 2 : at + 4]))
        at += 2 + length
    return None


# --- PDF ------------------------------------------------------------------------------------------

_PAGES = re.compile(rb"/Type\s*/Pages(?![A-Za-z0-9])")
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z0-9])")
_COUNT = re.compile(rb"/Count\s+(\d+)")
_OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
_OBJSTM = re.compile(rb"/Type\s*/ObjStm(?![A-Za-z0-9])")
_STREAM = re.compile(rb"stream\r?\n")
_FIRST = re.compile(rb"/First\s+(\d+)")
_ENCRYPT = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R|<<)")
# An object stream holds small objects; more than this decompressed is not one worth reading.
_MAX_OBJSTM_BYTES = 8 << 20


def pdf_page_count(data: Buffer) -> int | None:
    """Pages of a PDF: the largest `/Count` of a page-tree node (the root counts every page), found in
    plain objects and in compressed object streams (PDF 1.5+). None when the file is not a PDF, is
    encrypted (the API does not take those either), or has no readable page tree."""
    if bytes(data[:1024]).find(b"%PDF-") < 0 or _ENCRYPT.search(data):
        return None
    counts: list[int] = []
    leaves = 0
    for body in _objects(data):
        if _PAGES.search(body):
            found = _COUNT.search(body)
            if found:
                counts.append(int(found.group(1)))
        elif _PAGE.search(body):
            leaves += 1
    if counts:
        return max(counts)
    return leaves or None


def _objects(data: Buffer) -> Iterator[bytes]:
    """The text of every top-level object, then of every object in object streams. A stream's bytes
    are not object syntax (and may be large): of a top-level object only its dictionary is read."""
    starts = [m.start() for m in _OBJ.finditer(data)]
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(data)
        cut = data.find(b"stream", start, stop)
        head = bytes(data[start : cut if cut >= 0 else stop])
        yield head
        if cut >= 0 and _OBJSTM.search(head):
            yield from _object_stream(head, bytes(data[cut:stop]))


def _object_stream(header: bytes, stream: bytes) -> Iterator[bytes]:
    """The objects packed in one `/Type /ObjStm` stream (FlateDecode, the usual filter)."""
    opened = _STREAM.match(stream)
    first = _FIRST.search(header)
    if opened is None or first is None or b"/FlateDecode" not in header:
        return
    try:
        content = zlib.decompressobj().decompress(stream[opened.end() :], _MAX_OBJSTM_BYTES)
    except zlib.error:
        return
    base = int(first.group(1))
    offsets = [int(x) for x in content[:base].split()[1::2]]
    for n, offset in enumerate(offsets):
        stop = offsets[n + 1] if n + 1 < len(offsets) else len(content) - base
        yield content[base + offset : base + stop]
