"""The user message of a turn: who wrote what, and the files that come with it (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.claude import visuals
from bot.claude.request import Block, author_line

_UNSAFE = re.compile(r'[<>:"|?*\\/\x00-\x1f\x7f]')


@dataclass(frozen=True)
class SandboxFile:
    file_id: str
    name: str  # the name in $INPUT_DIR
    mimetype: str
    size: int
    width: int | None = None  # images: read from the file (bot/media.py)
    height: int | None = None
    pages: int | None = None  # PDFs

    def visual(self) -> visuals.Visual:
        return visuals.Visual(
            self.file_id, self.name, self.mimetype, self.size, self.width, self.height, self.pages
        )


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


def file_blocks(files: Sequence[SandboxFile], shown: Mapping[str, Block] | None = None) -> list[Block]:
    """`container_upload` puts each file in `$INPUT_DIR` (reference §2.2); the images and PDFs in
    `shown` (see `visuals.choose`) are also shown to Claude directly, by the same Files API id."""
    blocks: list[Block] = []
    for f in files:
        blocks.append({"type": "container_upload", "file_id": f.file_id})
        if shown and f.file_id in shown:
            blocks.append(shown[f.file_id])
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
    visual_budget_tokens: int,
) -> list[Block]:
    """One user message for everything people wrote since the last turn, in order. Images and PDFs
    are shown within the API's limits and `visual_budget_tokens` (see `visuals`), the others are
    named in a note."""
    shown, not_shown = visuals.choose(
        [f.visual() for f in files], images=images, pdfs=pdfs, budget_tokens=visual_budget_tokens
    )
    lines: list[str] = []
    if context:
        lines += [context, ""]
    for s in said:
        lines.append(f"{author_line(s.author, s.user_id)} {s.text}".rstrip())
    if files:
        lines += ["", describe_files(files)]
    for note in [*notes, *not_shown]:
        lines += ["", f"(Note from the Slack bot: {note})"]
    text = "\n".join(lines).strip() or "(no text)"
    return [*file_blocks(files, shown), {"type": "text", "text": text}]


def thread_context(earlier: Sequence[Said]) -> str:
    body = "\n".join(f"{author_line(s.author, s.user_id)} {s.text}".rstrip() for s in earlier)
    return "Earlier messages in this Slack thread, before you were mentioned:\n" + body
