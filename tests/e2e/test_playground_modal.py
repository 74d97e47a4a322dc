"""The page's modal form (playground/static/modal.js), run in Chromium: the bot's real `/claude config`
modal is drawn with its current values and errors, read back the way Slack's client submits it, and
nothing in it becomes markup."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.slack.assistant_modal import Choices, build_modal
from tests.browser import Browser, chromium_path

STATIC = Path(__file__).resolve().parents[2] / "playground" / "static"
CHOICES = Choices(
    models=("claude-opus-5",),
    default_model="claude-sonnet-5",
    sources=(("shop", "The demo shop"),),
    skills=(("xlsx", "Excel"),),
)
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but no Chromium: apt-get install -y chromium")
        pytest.skip("no Chromium on this machine (apt-get install -y chromium)")
    async with Browser(path) as browser:
        script = (STATIC / "markup.js").read_text() + (STATIC / "modal.js").read_text()
        await browser.evaluate(script + "\nwindow.Modal = Modal; true")
        yield browser


async def draw(page: Browser, modal: dict[str, Any]) -> None:
    await page.evaluate(
        f"document.body.innerHTML = Modal.html({json.dumps(modal)}, {{}}); true",
    )


def as_shown(view: dict[str, Any], errors: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page gets for a modal (playground/snapshot.py)."""
    return {k: view.get(k) for k in ("title", "submit", "close", "blocks")} | {"errors": errors or {}}


async def test_the_config_modal_is_read_back_as_slack_sends_it(page: Browser) -> None:
    stored = {"preset": "sql", "persona": "EUR", "model": "claude-opus-5", "data_sources": []}
    await draw(page, as_shown(build_modal("C1", stored, CHOICES), {"budget_daily": "Give an amount"}))
    values = await page.evaluate("Modal.values(document.querySelector('form'))")
    assert values == {
        "preset": "sql",
        "persona": "EUR",
        "model": "claude-opus-5",
        "web": [],
        "sources": [],
        "skills": ["xlsx"],
        "budget_daily": "",
        "budget_monthly": "",
        "mention": [],
    }
    assert "Give an amount" in await page.evaluate("document.querySelector('.modal-error').textContent")
    # The person changes some of it.
    await page.evaluate(
        "document.querySelector('[data-block-id=persona] textarea').value = 'Be brief';"
        "document.querySelector('[data-block-id=web] input[value=web_search]').checked = true;"
        "document.querySelector('[data-block-id=preset] input[value=report]').checked = true; true"
    )
    values = await page.evaluate("Modal.values(document.querySelector('form'))")
    assert (
        values["persona"] == "Be brief" and values["web"] == ["web_search"] and values["preset"] == "report"
    )


async def test_nothing_in_a_modal_becomes_markup(page: Browser) -> None:
    evil = '<img src=x onerror="window.owned=1">'
    view = build_modal("C1", {"persona": evil}, CHOICES)
    view["title"] = {"type": "plain_text", "text": evil[:24]}
    await draw(page, as_shown(view, {"persona": evil}))
    assert await page.evaluate("document.querySelectorAll('img').length") == 0
    assert await page.evaluate("window.owned === undefined")
    assert await page.evaluate("document.querySelector('[data-block-id=persona] textarea').value") == evil


async def test_errors_show_under_their_inputs_and_keep_what_was_entered(page: Browser) -> None:
    await draw(page, as_shown(build_modal("C1", {}, CHOICES)))
    await page.evaluate("document.querySelector('[data-block-id=persona] textarea').value = 'typed'; true")
    errors = {"budget_daily": "Give an amount in dollars", "persona": "<b>too long</b>"}
    await page.evaluate(f"Modal.showErrors(document.querySelector('form'), {json.dumps(errors)}); true")
    shown = await page.evaluate(
        "[...document.querySelectorAll('.modal-error')].map(e => [e.parentElement.dataset.blockId, e.textContent])"
    )
    assert sorted(shown) == sorted([list(i) for i in errors.items()])
    assert await page.evaluate("document.querySelector('[data-block-id=persona] textarea').value") == "typed"
    await page.evaluate("Modal.showErrors(document.querySelector('form'), {}); true")
    assert await page.evaluate("document.querySelectorAll('.modal-error').length") == 0
