"""The page's renderer of Slack text and Block Kit (playground/static/markup.js), run in Chromium:
what people see, and that nothing in a message (written by Claude, or from a file) becomes markup."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.browser import Browser, chromium_path

MARKUP = Path(__file__).resolve().parents[2] / "playground" / "static" / "markup.js"
NAMES = {"U0BOT1234": "claude", "U0123ABCD": "Ana Lima", "C0123ABCD": "general"}
# One browser for the whole table.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but no Chromium: apt-get install -y chromium")
        pytest.skip("no Chromium on this machine (apt-get install -y chromium)")
    async with Browser(path) as browser:
        await browser.evaluate(MARKUP.read_text() + "\nwindow.Markup = Markup; true")
        yield browser


async def markdown(page: Browser, text: str) -> str:
    return str(await page.evaluate(f"Markup.markdown({json.dumps(text)}, {json.dumps(NAMES)})"))


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold** and *bold* and _it_", "<b>bold</b> and <b>bold</b> and <i>it</i>"),
        ("<@U0123ABCD> hi", '<span class="mention">@Ana Lima</span> hi'),
        ("`a < b`", "<code>a &lt; b</code>"),
        (
            "in <#C0123ABCD> and <#C0999|other>",
            'in <span class="mention">#general</span> and <span class="mention">#other</span>',
        ),
        (
            "<https://example.com|site>",
            '<a href="https://example.com" target="_blank" rel="noopener">site</a>',
        ),
        (
            "[doc](https://example.com/x)",
            '<a href="https://example.com/x" target="_blank" rel="noopener">doc</a>',
        ),
        ("```python\nprint('<b>')\n```", "<pre><code>print(&#39;&lt;b&gt;&#39;)</code></pre>"),
        (
            "| a | b |\n|---|---|\n| 1 | 2 |",
            '<table class="md-table"><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>',
        ),
        ("- one\n- two", "• one\n• two"),
        (":eyes: done", "👀 done"),
    ],
)
async def test_markdown(page: Browser, text: str, html: str) -> None:
    assert await markdown(page, text) == html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "<javascript:alert(1)|click>",
        '**<b onclick="x">**',
    ],
)
async def test_nothing_in_a_message_becomes_markup(page: Browser, text: str) -> None:
    """The rendered HTML, parsed by the browser: no element that runs script, and the text still shown."""
    bad, shown = await page.evaluate(
        f"""(() => {{
            const box = document.createElement("div");
            box.innerHTML = Markup.markdown({json.dumps(text)}, {{}});
            const bad = [...box.querySelectorAll("*")].filter((e) =>
                ["SCRIPT", "IMG", "IFRAME"].includes(e.tagName)
                || [...e.attributes].some((a) => a.name.startsWith("on"))
                || (e.getAttribute("href") || "").trim().toLowerCase().startsWith("javascript"));
            return [bad.length, box.textContent];
        }})()"""
    )
    assert bad == 0
    assert "alert(1)" in shown or "onclick" in shown


async def test_blocks(page: Browser) -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "stop_turn",
                    "value": "v",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Stop"},
                }
            ],
        },
        {"type": "image", "alt_text": "chart", "playground_src": "/playground/files/F1/c.png"},
        {"type": "header", "text": {"type": "plain_text", "text": "<Usage>"}},
        {"type": "some_future_block"},
    ]
    html = await page.evaluate(
        f"Markup.blocks({json.dumps(blocks)}, {{names: {json.dumps(NAMES)}, ts: '1.5'}})"
    )
    assert '<div class="text"><b>Hi</b></div>' in html
    assert '<div class="block context"><span>small</span></div>' in html
    assert (
        '<button class="btn danger" data-ts="1.5" data-action-id="stop_turn" data-value="v">Stop</button>'
        in html
    )
    assert 'src="/playground/files/F1/c.png" alt="chart"' in html
    assert "&lt;Usage&gt;" in html
