"""Which attachments Claude also sees directly, as `image` / `document` blocks, and for how long (pure).

Every attachment goes into the sandbox (`container_upload`); images and PDFs can also be shown to
Claude. The API limits what one request may show (Anthropic docs, "Vision" and "PDF support"): an
image over 8000 px a side is rejected, and over 2000 px once a request holds more than 20 images;
PDFs may have 100 pages per request in all (600 with a 1M-token context window). Every request of a
thread resends its history, so visuals that stay in the history add up until every request fails,
and only "New session" helps (anthropics/claude-code#6231, #49720, shellicar/claude-cli#323).

Chosen: **a visual is shown in the turn it arrives only.** In later turns a short text stands in for
it, and the file stays in `$INPUT_DIR`. The alternative, keeping visuals while the request stays
within the limits and dropping the oldest when it would not, was rejected:
- visuals fill the context: an image is up to ~1,600 tokens, a PDF page 1,500-3,000 of text plus its
  image, so one 30-page PDF kept in the history is most of the context budget on every later request;
- the limits are per request and a thread's visuals only accumulate, so that policy must keep
  dropping, each drop changing an early message: a prompt-cache miss from there on, at a time nobody
  can predict. Showing each visual in one turn costs the same single miss (the next turn rewrites
  the cache from the message the visual was in), always right after that turn;
- Claude keeps what it saw in its own words, and can open the file again in the sandbox.
Within the arrival turn, the visuals shown are held inside the per-request limits and inside the room
the history leaves in the context budget, by their real size (pixels, pages): the rest are files only,
and Claude is told which and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Block = dict[str, Any]
Message = dict[str, Any]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PDF_TYPE = "application/pdf"
MAX_IMAGE_BLOCK_BYTES = 5 * 1024 * 1024  # the vision docs' per-image size limit
MAX_PDF_BLOCK_BYTES = 32 * 1024 * 1024  # the PDF docs' request size limit
MAX_IMAGE_SIDE = 8000
# Over 20 images, every image of the request must be at most 2000x2000: showing at most 20 per turn
# (visuals are shown in one turn only) keeps the plain 8000 px rule.
MAX_IMAGES = 20
MAX_PDF_PAGES = 100  # below a 1M-token context window; the bot's budget is far below that
# Vision docs: an image is scaled down until its long edge is at most 1568 px and it is at most about
# 1,600 tokens (their table: 1092x1092 is the largest square not resized), then costs width * height
# / 750 tokens.
LONG_EDGE = 1568
MAX_PIXELS = 1092 * 1092
# PDF docs: a page costs 1,500-3,000 tokens of text plus its image (each page is also shown as one).
PDF_TEXT_TOKENS_PER_PAGE = 3000


@dataclass(frozen=True)
class Visual:
    """An attachment that might be shown: its Files API id, name, type, size, and what was read of it."""

    file_id: str
    name: str
    mimetype: str
    size: int
    width: int | None = None
    height: int | None = None
    pages: int | None = None


def image_tokens(width: int, height: int) -> int:
    scale = min(1.0, LONG_EDGE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    return math.ceil(round(width * scale) * round(height * scale) / 750)


PDF_PAGE_TOKENS = PDF_TEXT_TOKENS_PER_PAGE + image_tokens(1224, 1584)  # a letter page at 144 dpi


def choose(
    files: Sequence[Visual], *, images: bool, pdfs: bool, budget_tokens: int
) -> tuple[dict[str, Block], list[str]]:
    """The blocks to show (by file id) and, for Claude, a note on each image or PDF that is not shown."""
    shown: dict[str, Block] = {}
    notes: list[str] = []
    used_tokens = used_pages = shown_images = 0
    for f in files:
        if images and f.mimetype in IMAGE_TYPES:
            why = _image_problem(f, shown_images)
            cost = image_tokens(f.width, f.height) if f.width and f.height else 0
            block: Block = {"type": "image", "source": {"type": "file", "file_id": f.file_id}}
        elif pdfs and f.mimetype == PDF_TYPE:
            why = _pdf_problem(f, used_pages)
            cost = (f.pages or 0) * PDF_PAGE_TOKENS
            block = {"type": "document", "source": {"type": "file", "file_id": f.file_id}, "title": f.name}
        else:
            continue
        if why is None and used_tokens + cost > budget_tokens:
            why = "would not fit in the room this conversation has left"
        if why is not None:
            notes.append(
                f"`{f.name}` is not shown to you directly: it {why}. It is in $INPUT_DIR; {_how(f)}."
            )
            continue
        shown[f.file_id] = block
        used_tokens += cost
        if block["type"] == "image":
            shown_images += 1
        else:
            used_pages += f.pages or 0
    return shown, notes


def _image_problem(f: Visual, shown_images: int) -> str | None:
    if f.size > MAX_IMAGE_BLOCK_BYTES:
        return "is over the 5 MB the API accepts for an image"
    if not f.width or not f.height:
        return "could not be read as an image"
    if max(f.width, f.height) > MAX_IMAGE_SIDE:
        return f"is {f.width}x{f.height} px, over the {MAX_IMAGE_SIDE} px a side the API accepts"
    if shown_images >= MAX_IMAGES:
        return f"comes after the first {MAX_IMAGES} images of this message, the most shown at once"
    return None


def _pdf_problem(f: Visual, used_pages: int) -> str | None:
    if f.size > MAX_PDF_BLOCK_BYTES:
        return "is over the 32 MB the API accepts for a PDF"
    if not f.pages:
        return "has pages that could not be counted (it may be encrypted or damaged)"
    if used_pages + f.pages > MAX_PDF_PAGES:
        return f"has {f.pages} pages, and one request may show {MAX_PDF_PAGES} PDF pages in all"
    return None


def _how(f: Visual) -> str:
    if f.mimetype == PDF_TYPE:
        return "read it in the sandbox with pypdf or pdfplumber, a few pages at a time"
    return "open it in the sandbox with Pillow (downscale it to look at it)"


def placeholder(block: Block, names: Mapping[str, str]) -> Block:
    """What stands in for a visual in the turns after the one it arrived in."""
    source = block.get("source") or {}
    name = names.get(str(source.get("file_id", ""))) or block.get("title")
    kind = "PDF" if block.get("type") == "document" else "image"
    what = f"the {kind} `{name}`" if name else f"an attached {kind}"
    return {
        "type": "text",
        "text": f"[{what} was shown to you here, in the turn it was attached; it is still in $INPUT_DIR]",
    }


def without_visuals(history: Sequence[Message], names: Mapping[str, str]) -> list[Message]:
    """The history with every image and document block replaced by its placeholder (copies only the
    messages that change). The same history always gives the same text, so later turns keep hitting
    the prompt cache."""
    out: list[Message] = []
    for message in history:
        content = message["content"]
        if isinstance(content, list) and any(b.get("type") in ("image", "document") for b in content):
            content = [
                placeholder(b, names) if b.get("type") in ("image", "document") else b for b in content
            ]
            message = {"role": message["role"], "content": content}
        out.append(message)
    return out
