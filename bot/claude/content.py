"""The user message of a turn: who wrote what, and the files that come with it (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.claude.request import Block, author_line

# What the Messages API shows directly (anthropic docs: image and PDF support); other types are
# only files in the sandbox.
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
MAX_IMAGE_BLOCK_BYTES = 5 * 1024 * 1024
MAX_PDF_BLOCK_BYTES = 32 * 1024 * 1024

_UNSAFE = re.compile(r'[<>:"|?*\\/\x00-\x1f\x7f]')


@dataclass(frozen=True)
class SandboxFile:
    file_id: str
    name: str  # the name in $INPUT_DIR
    mimetype: str
    size: int


@dataclass(frozen=True)
class Said:
    author: str
    user_id: str
    text: str


def safe_name(name: str, taken: Iterable[str]) -> str:
    """A file name the Files API and the sandbox accept (1-255 characters without `<>:"|?*\\/` or
    control characters, reference §5), not already used in this thread: "data (2).csv" style."""
    cleaned = _UNSAFE.sub("_", name).strip().strip(".") or "file"
    if len(cleaned) > 200:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 20 else cleaned[:200]
    used = {t.lower() for t in taken}
    if cleaned.lower() not in used:
        return cleaned
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem:
        stem, ext = cleaned, ""
    n = 2
    while True:
        candidate = f"{stem} ({n}){'.' + ext if ext else ''}"
        if candidate.lower() not in used:
            return candidate
        n += 1


def file_blocks(files: Sequence[SandboxFile], *, images: bool, pdfs: bool) -> list[Block]:
    """`container_upload` puts each file in `$INPUT_DIR` (reference §2.2); images and PDFs are also
    shown to Claude directly, by the same Files API id."""
    blocks: list[Block] = []
    for f in files:
        blocks.append({"type": "container_upload", "file_id": f.file_id})
        if images and f.mimetype in IMAGE_TYPES and f.size <= MAX_IMAGE_BLOCK_BYTES:
            blocks.append({"type": "image", "source": {"type": "file", "file_id": f.file_id}})
        elif pdfs and f.mimetype == "application/pdf" and f.size <= MAX_PDF_BLOCK_BYTES:
            blocks.append(
                {"type": "document", "source": {"type": "file", "file_id": f.file_id}, "title": f.name}
            )
    return blocks


def describe_files(files: Sequence[SandboxFile]) -> str:
    return "Attached files, now in $INPUT_DIR: " + ", ".join(f"`{f.name}` ({_size(f.size)})" for f in files)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def user_content(
    said: Sequence[Said],
    files: Sequence[SandboxFile],
    *,
    context: str | None = None,
    notes: Sequence[str] = (),
    images: bool = True,
    pdfs: bool = True,
) -> list[Block]:
    """One user message for everything people wrote since the last turn, in order."""
    lines: list[str] = []
    if context:
        lines += [context, ""]
    for s in said:
        lines.append(f"{author_line(s.author, s.user_id)} {s.text}".rstrip())
    if files:
        lines += ["", describe_files(files)]
    for note in notes:
        lines += ["", f"(Note from the Slack bot: {note})"]
    text = "\n".join(lines).strip() or "(no text)"
    return [*file_blocks(files, images=images, pdfs=pdfs), {"type": "text", "text": text}]


def thread_context(earlier: Sequence[Said]) -> str:
    body = "\n".join(f"{author_line(s.author, s.user_id)} {s.text}".rstrip() for s in earlier)
    return "Earlier messages in this Slack thread, before you were mentioned:\n" + body
