"""The limits on images and PDFs in one request, as the real API enforces them, with the real SDK."""

from __future__ import annotations

import base64
import io
from typing import Any

import anthropic
import pytest
from anthropic.types import ImageDimensionsTooLargeError
from PIL import Image
from pypdf import PdfWriter

from emulators.anthropic import AnthropicEmulator, Say, Script
from emulators.anthropic.testing import MODEL, client


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG")
    return out.getvalue()


def pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload(emu: AnthropicEmulator, name: str, data: bytes, mime: str) -> str:
    return (await client(emu).files.upload(file=(name, data, mime))).id


def image(file_id: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "file", "file_id": file_id}}


def document(file_id: str) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "file", "file_id": file_id}}


async def ask(emu: AnthropicEmulator, *contents: list[dict[str, Any]]) -> Any:
    """One request whose user turns carry `contents` (earlier turns answered), like a thread's history."""
    messages: list[Any] = []
    for n, content in enumerate(contents):
        if n:
            messages.append({"role": "assistant", "content": "Seen."})
        messages.append({"role": "user", "content": [*content, {"type": "text", "text": "look"}]})
    emu.model = Script([[Say("ok")]])
    return await client(emu).messages.create(model=MODEL, max_tokens=50, messages=messages)


async def test_an_image_over_8000_px_is_rejected_with_its_path(emu: AnthropicEmulator) -> None:
    ok = await upload(emu, "ok.png", png(8000, 10), "image/png")
    wide = await upload(emu, "wide.png", png(8001, 10), "image/png")
    assert (await ask(emu, [image(ok)])).stop_reason == "end_turn"
    with pytest.raises(ImageDimensionsTooLargeError) as caught:
        await ask(emu, [image(ok)], [image(wide)])
    error: Any = caught.value.body
    assert caught.value.status_code == 400
    assert error["error"]["message"] == (
        "messages.2.content.0.image.source.file.file_id: At least one of the image dimensions exceed max "
        "allowed size: 8000 pixels"
    )
    assert caught.value.details.max_side_length_pixels == 8000
    assert caught.value.details.paths == ["messages.2.content.0"]


async def test_over_20_images_each_must_be_at_most_2000_px(emu: AnthropicEmulator) -> None:
    """Counted over the whole request: twenty photos in one turn and one more in the next fail."""
    photo = await upload(emu, "photo.jpg", png(2400, 1800), "image/png")
    small = await upload(emu, "small.png", png(2000, 2000), "image/png")
    await ask(emu, [image(photo)] * 20)
    with pytest.raises(ImageDimensionsTooLargeError) as caught:
        await ask(emu, [image(photo)] * 20, [image(small)])
    assert "for many-image requests: 2000 pixels" in str(caught.value)
    assert caught.value.details.max_side_length_pixels == 2000
    assert len(caught.value.details.paths) == 20
    await ask(emu, [image(small)] * 20, [image(small)])  # every one within 2000 px: fine


async def test_base64_images_are_measured_too(emu: AnthropicEmulator) -> None:
    data = base64.b64encode(png(10, 9000)).decode()
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    with pytest.raises(ImageDimensionsTooLargeError, match=r"image\.source\.base64\.data: At least one"):
        await ask(emu, [block])


async def test_pdf_pages_count_per_request_over_every_turn(emu: AnthropicEmulator) -> None:
    report = await upload(emu, "report.pdf", pdf(60), "application/pdf")
    annex = await upload(emu, "annex.pdf", pdf(40), "application/pdf")
    more = await upload(emu, "more.pdf", pdf(1), "application/pdf")
    await ask(emu, [document(report)], [document(annex)])  # 100 pages: the limit itself
    with pytest.raises(anthropic.BadRequestError) as caught:
        await ask(emu, [document(report)], [document(annex)], [document(more)])
    assert caught.value.body["error"]["message"] == (  # type: ignore[index]
        "messages.4.content.0.pdf.source.file.file_id: A maximum of 100 PDF pages may be provided."
    )


async def test_more_than_100_images_are_refused_below_a_1m_context(emu: AnthropicEmulator) -> None:
    dot = await upload(emu, "dot.png", png(4, 4), "image/png")
    await ask(emu, [image(dot)] * 100)
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 100 images"):
        await ask(emu, [image(dot)] * 100, [image(dot)])
    emu.context_window = 1_000_000
    await ask(emu, [image(dot)] * 100, [image(dot)])


async def test_a_file_that_is_no_image_cannot_be_shown(emu: AnthropicEmulator) -> None:
    text = await upload(emu, "notes.txt", b"not an image", "text/plain")
    with pytest.raises(anthropic.BadRequestError, match="Could not process image"):
        await ask(emu, [image(text)])
