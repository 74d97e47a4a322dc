"""Image sizes and PDF page counts read from the files' own bytes (bot/media.py)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from pypdf import PdfWriter

from bot.media import image_size, pdf_page_count


def picture(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white").save(out, fmt, **options)
    return out.getvalue()


def jpeg_with_big_segment(size: tuple[int, int]) -> bytes:
    """A JPEG whose frame header comes after 200 KB of APP segments (EXIF thumbnails, ICC profiles)."""
    plain = picture("JPEG", size)
    app = b"".join(b"\xff\xe2" + struct.pack(">H", 65_000) + b"\0" * 64_998 for _ in range(3))
    return plain[:2] + app + plain[2:]


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (picture("PNG", (1024, 768)), (1024, 768)),
        (picture("JPEG", (4032, 3024)), (4032, 3024)),
        (picture("JPEG", (640, 480), progressive=True), (640, 480)),
        (jpeg_with_big_segment((300, 9000)), (300, 9000)),
        (picture("GIF", (320, 200)), (320, 200)),
        (picture("WEBP", (800, 600)), (800, 600)),  # lossy (VP8)
        (picture("WEBP", (801, 601), lossless=True), (801, 601)),  # VP8L
        (picture("WEBP", (8001, 20), mode="RGBA"), (8001, 20)),  # alpha: extended (VP8X)
        (picture("PNG", (12000, 1)), (12000, 1)),
        (picture("PNG", (16, 16))[:20], None),  # cut inside the header
        (b"GIF89a", None),
        (b"%PDF-1.7\n", None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),  # a JPEG cut before its frame header
        (b"", None),
    ],
)
def test_image_size_from_the_header(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size


def pages(count: int, *, encrypt: bool = False) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(612, 792)
    if encrypt:
        writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def object_stream_pdf(count: int) -> bytes:
    """A PDF 1.5 whose page tree sits in a compressed object stream (what pdfTeX and Word write)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Count {count} /Kids [] >>".encode()]
    offsets, body = [], b""
    for obj in objects:
        offsets.append(len(body))
        body += obj + b" "
    header = b" ".join(f"{n + 1} {off}".encode() for n, off in enumerate(offsets)) + b" "
    packed = zlib.compress(header + body)
    stream = (
        f"3 0 obj\n<< /Type /ObjStm /N 2 /First {len(header)} /Filter /FlateDecode /Length {len(packed)} >>\n"
        "stream\n"
    ).encode()
    return b"%PDF-1.5\n" + stream + packed + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def chart_pdf(count: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out) as pdf:
        for n in range(count):
            fig = plt.figure()
            plt.plot([n, n + 1])
            pdf.savefig(fig)
            plt.close(fig)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (pages(1), 1),
        (pages(250), 250),
        (chart_pdf(3), 3),
        (object_stream_pdf(42), 42),
        (pages(3, encrypt=True), None),  # the API does not take encrypted PDFs either
        (b"%PDF-1.4\nnothing here\n%%EOF", None),
        (picture("PNG", (10, 10)), None),
    ],
)
def test_pdf_page_count(data: bytes, count: int | None) -> None:
    assert pdf_page_count(data) == count
