"""Images and PDFs are shown to Claude in the turn they arrive, within the API's limits, and never
again: a thread with many photos or a long PDF keeps working (issue 12, item 1)."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image
from pypdf import PdfWriter

from emulators.anthropic import AnthropicEmulator, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import got, sent, wait_finished


def photo(n: int) -> tuple[str, bytes, str]:
    """A phone photo's size (over the 2000 px allowed once a request holds more than 20 images)."""
    out = io.BytesIO()
    Image.new("L", (2400, 1800), n).save(out, "PNG")
    return (f"photo{n}.png", out.getvalue(), "image/png")


def pdf(name: str, pages: int) -> tuple[str, bytes, str]:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return (name, out.getvalue(), "application/pdf")


def blocks(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for m in body["messages"] for b in m["content"] if b.get("type") == kind]


async def test_twenty_one_photos_over_two_turns(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("Eleven photos seen.")], [Say("Ten more seen.")], [Say("All counted.")]])
    await start_bot()
    root = await slack.post_message(
        "ana", "general", "here are the site photos", mention_bot=True, files=[photo(n) for n in range(11)]
    )
    await wait_finished(slack, "general", root)
    await slack.post_message(
        "ben", "general", "and mine", thread_ts=root, files=[photo(n) for n in range(11, 21)]
    )
    await wait_finished(slack, "general", root, count=2)
    await slack.post_message("ana", "general", "how many in all?", thread_ts=root)
    text = await wait_finished(slack, "general", root, count=3)
    assert "All counted." in text and "rejected" not in text
    assert [r.status for r in claude.requests] == [200, 200, 200]
    second, third = sent(claude.requests[1]), sent(claude.requests[2])
    assert len(blocks(second, "image")) == 10  # only the photos of its own turn
    assert blocks(third, "image") == []
    assert len(blocks(third, "container_upload")) == 21  # the files themselves stay in the sandbox
    history = json.dumps(third["messages"])
    assert "[the image `photo0.png` was shown to you here, in the turn it was attached" in history
    assert got(claude.requests[2])["stop_reason"] == "end_turn"


async def test_a_long_pdf_is_read_in_the_sandbox_and_a_shown_one_is_not_resent(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("Read the report.")], [Say("I will read the book with pypdf.")]])
    await start_bot()
    root = await slack.post_message(
        "ana", "general", "summarise this", mention_bot=True, files=[pdf("report.pdf", 30)]
    )
    await wait_finished(slack, "general", root)
    await slack.post_message("ana", "general", "and this one", thread_ts=root, files=[pdf("book.pdf", 80)])
    text = await wait_finished(slack, "general", root, count=2)
    assert "I will read the book with pypdf." in text
    assert [r.status for r in claude.requests] == [200, 200]
    first, second = sent(claude.requests[0]), sent(claude.requests[1])
    assert [b["title"] for b in blocks(first, "document")] == ["report.pdf"]
    assert blocks(second, "document") == []
    told = second["messages"][-1]["content"][-1]["text"]
    assert "`book.pdf` is not shown to you directly" in told and "pypdf" in told
