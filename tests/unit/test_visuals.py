"""Which images and PDFs Claude sees directly, and what stands in for them later (bot/claude/visuals.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.claude.visuals import (
    MAX_IMAGE_BLOCK_BYTES,
    PDF_PAGE_TOKENS,
    Visual,
    choose,
    image_tokens,
    without_visuals,
)

BIG = 10**9  # room to spare


def img(name: str, width: int | None = 1200, height: int | None = 900, size: int = 100_000) -> Visual:
    return Visual(f"file_{name}", name, "image/png", size, width, height)


def doc(name: str, pages: int | None, size: int = 100_000) -> Visual:
    return Visual(f"file_{name}", name, "application/pdf", size, pages=pages)


@pytest.mark.parametrize(
    ("width", "height", "tokens"),
    [
        (200, 200, 54),  # small: as is
        (1092, 1092, 1590),  # the docs' largest 1:1 image that is not resized (~1,600 tokens)
        (4032, 3024, 1591),  # a phone photo: scaled down to about 1,600 tokens
        (8000, 100, 42),  # a long strip: scaled to 1568 px on the long edge
    ],
)
def test_image_tokens_follow_the_vision_docs(width: int, height: int, tokens: int) -> None:
    assert image_tokens(width, height) == tokens


@pytest.mark.parametrize(
    ("files", "budget", "shown", "not_shown"),
    [
        ([img("a.png"), doc("r.pdf", 10)], BIG, ["a.png", "r.pdf"], []),
        ([img("wide.png", 8001, 10)], BIG, [], ["wide.png"]),  # over 8000 px a side
        ([img("edge.png", 8000, 10)], BIG, ["edge.png"], []),
        ([img("odd.png", None, None)], BIG, [], ["odd.png"]),  # size unknown: cannot be shown safely
        ([img("huge.png", size=MAX_IMAGE_BLOCK_BYTES + 1)], BIG, [], ["huge.png"]),
        # More than 20 would bring in the 2000 px rule for every image: the 21st is not shown.
        (
            [img(f"p{n}.png", 4032, 3024) for n in range(21)],
            BIG,
            [f"p{n}.png" for n in range(20)],
            ["p20.png"],
        ),
        ([doc("a.pdf", 60), doc("b.pdf", 41), doc("c.pdf", 40)], BIG, ["a.pdf", "c.pdf"], ["b.pdf"]),
        ([doc("locked.pdf", None)], BIG, [], ["locked.pdf"]),
        # The room the history leaves: a PDF of many pages does not fit, a photo still does.
        ([doc("book.pdf", 30), img("a.png")], 29 * PDF_PAGE_TOKENS, ["a.png"], ["book.pdf"]),
        ([img("a.png")], 0, [], ["a.png"]),
    ],
)
def test_what_is_shown_stays_within_the_limits(
    files: list[Visual], budget: int, shown: list[str], not_shown: list[str]
) -> None:
    blocks, notes = choose(files, images=True, pdfs=True, budget_tokens=budget)
    assert [f.name for f in files if f.file_id in blocks] == shown
    assert [n.split("`")[1] for n in notes] == not_shown
    assert all("$INPUT_DIR" in n for n in notes)


def test_settings_can_turn_either_kind_off_without_notes() -> None:
    blocks, notes = choose([img("a.png"), doc("r.pdf", 2)], images=False, pdfs=True, budget_tokens=BIG)
    assert list(blocks) == ["file_r.pdf"] and notes == []


def test_later_turns_get_a_stable_line_instead_of_the_visual() -> None:
    history: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "container_upload", "file_id": "file_a"},
                {"type": "image", "source": {"type": "file", "file_id": "file_a"}},
                {"type": "document", "source": {"type": "file", "file_id": "file_r"}, "title": "r.pdf"},
                {"type": "text", "text": "look"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Seen."}]},
    ]
    out = without_visuals(history, {"file_a": "a.png"})
    assert [b["type"] for b in out[0]["content"]] == ["container_upload", "text", "text", "text"]
    assert out[0]["content"][1]["text"].startswith("[the image `a.png` was shown to you here")
    assert out[0]["content"][2]["text"].startswith("[the PDF `r.pdf` was shown to you here")
    assert out[1] is history[1]  # untouched messages are not copied
    assert history[0]["content"][1]["type"] == "image"  # the stored history is left as it is
    assert without_visuals(history, {"file_a": "a.png"}) == out  # the same every turn: cache hits
