"""The playground in a real browser: headless Chromium (Debian's package) drives the page that
`python -m bot playground` serves, with the real bot and the Anthropic emulator behind it.

A person attaches a CSV and asks; the answer streams in and the chart shows in the thread; a long
run is stopped with its Stop button; someone else takes part. Screenshots of every step go to
test-artifacts/playground/. Without Chromium the test is skipped, unless REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.browser import Browser, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playground"
URL_LINE = re.compile(r"Playground: (http://\S+)")
SALES = "month,product,revenue\n2026-01,apples,120\n2026-01,pears,80\n2026-02,apples,150\n2026-02,pears,70\n"
CHART_QUESTION = """@claude which product grew fastest?
```python
import os
import pandas as pd
import matplotlib.pyplot as plt
df = pd.read_csv(os.path.join(os.environ["INPUT_DIR"], "sales.csv"))
growth = df.pivot(index="month", columns="product", values="revenue")
growth.plot(kind="bar", title="Revenue per product")
plt.savefig(os.path.join(os.environ["OUTPUT_DIR"], "growth.png"))
print("fastest:", growth.pct_change().iloc[-1].idxmax())
```"""
LONG_RUN = """a long one
```python
import time
time.sleep(30)
```"""


def js(value: str) -> str:
    return json.dumps(value)


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but no Chromium: apt-get install -y chromium")
        pytest.skip("no Chromium on this machine (apt-get install -y chromium)")
    return path


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[str]:
    """`python -m bot playground --port 0 --no-browser` in an empty directory: its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "playground",
        "--port",
        "0",
        "--no-browser",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    assert process.stdout is not None

    async def url() -> str:
        assert process.stdout is not None
        while raw := await process.stdout.readline():
            lines.append(raw.decode(errors="replace").rstrip())
            if match := URL_LINE.search(lines[-1]):
                return match.group(1)
        raise AssertionError("the playground exited:\n" + "\n".join(lines))

    async def drain() -> None:
        assert process.stdout is not None
        while raw := await process.stdout.readline():
            lines.append(raw.decode(errors="replace").rstrip())

    try:
        address = await asyncio.wait_for(url(), 30)
        reader = asyncio.create_task(drain())
        yield address
    finally:
        if process.returncode is None:
            process.terminate()
        code = await asyncio.wait_for(process.wait(), 30)
        if "reader" in locals():
            await reader
        print("----- playground log -----\n" + "\n".join(lines[-80:]))
    assert code == 0
    # The bot's state lives where the operator ran it.
    assert (tmp_path / "data" / "playground.db").exists()


async def test_a_person_uses_the_playground_in_a_browser(
    chromium: str, playground: str, tmp_path: Path
) -> None:
    csv = tmp_path / "sales.csv"
    csv.write_text(SALES)
    async with Browser(chromium) as page:
        await page.goto(playground)
        await page.wait_for("document.querySelector('#bot-state').dataset.state === 'ready'", 30)
        assert "Anthropic emulator" in await page.evaluate("document.querySelector('#backend').textContent")
        assert (
            await page.evaluate("document.querySelector('#person').selectedOptions[0].text")
            == "Ana Lima (admin)"
        )
        await page.screenshot(ARTIFACTS / "01-ready.png")

        # Ana attaches the CSV with the button's file picker and asks, mentioning the app.
        await page.set_files("#main-composer input[type=file]", [csv])
        await page.wait_for("document.querySelector('#main-composer .upload:not(.pending)')")
        await page.type_text("#main-composer textarea", CHART_QUESTION)
        await page.evaluate(
            """window.sawStreaming = false;
            window.sawStatus = "";
            new MutationObserver(() => {
              if (document.querySelector('#thread-messages .cursor')) window.sawStreaming = true;
              const status = document.querySelector('#status-line');
              if (!status.hidden) window.sawStatus = status.textContent;
            }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});"""
        )
        await page.press_key("Enter", "Enter", 13)
        # Her question shows with its file, and its thread opens, where the answer streams in.
        await page.wait_for(
            "document.querySelector('#messages .file-card')?.textContent.includes('sales.csv')"
        )
        await page.wait_for("!document.querySelector('#thread-pane').hidden")
        await page.screenshot(ARTIFACTS / "02-asked.png")
        await page.wait_for(
            "[...document.querySelectorAll('#thread-messages .message')].some("
            "m => m.textContent.includes('fastest: apples'))",
            30,
        )
        chart = "[...document.querySelectorAll('#thread-messages img.inline-image')].find(i => i.alt === 'growth.png')"
        await page.wait_for(f"{chart}?.complete && {chart}.naturalWidth > 100", 20)
        assert await page.evaluate("window.sawStreaming"), "the answer never showed as streaming"
        assert "working on it" in await page.evaluate("window.sawStatus")
        # The code run is a step that opens to show its code.
        await page.click("#thread-messages details.task summary")
        step = "document.querySelector('#thread-messages details.task[open]')"
        await page.wait_for(f"{step}?.textContent.includes('growth.plot(kind=')")
        assert "fastest: apples" in await page.evaluate(f"{step}.textContent")
        await page.screenshot(ARTIFACTS / "03-answer-and-chart.png")

        # A long run in the thread: its Stop button stops it.
        await page.type_text("#thread-composer textarea", LONG_RUN)
        await page.click("#thread-composer .send")
        await page.wait_for("document.querySelector('#thread-messages button[data-action-id=stop_turn]')", 20)
        await page.screenshot(ARTIFACTS / "04-long-run.png")
        await page.click("#thread-messages button[data-action-id=stop_turn]")
        await page.wait_for(
            "document.querySelector('#thread-messages').textContent.includes('Stopped by @Ana Lima')", 15
        )
        await page.wait_for("!document.querySelector('#thread-messages button[data-action-id=stop_turn]')")
        await page.screenshot(ARTIFACTS / "05-stopped.png")

        # Ben takes over the same page and writes in the thread.
        await page.evaluate(
            "const s = document.querySelector('#person'); s.value = 'U0234BCDE';"
            "s.dispatchEvent(new Event('change'))"
        )
        await page.wait_for("document.querySelector('#person').selectedOptions[0].text === 'Ben Okafor'")
        await page.click("#messages a[data-open-thread]")
        # He drops a file on the thread's composer.
        await page.evaluate(
            """(() => {
              const data = new DataTransfer();
              data.items.add(new File(["north,south\\n8,-12\\n"], "regions.csv", {type: "text/csv"}));
              const composer = document.querySelector('#thread-composer form');
              composer.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true}));
              composer.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
            })()"""
        )
        await page.wait_for("document.querySelector('#thread-composer .upload:not(.pending)')")
        await page.type_text("#thread-composer textarea", "@claude thanks, from Ben")
        await page.press_key("Escape", "Escape", 27)  # closes the @mention menu, as a person would
        await page.click("#thread-composer .send")
        await page.wait_for(
            "[...document.querySelectorAll('#thread-messages .message')].some(m => "
            "m.querySelector('.name').textContent === 'Ben Okafor' && m.textContent.includes('thanks, from Ben')"
            " && m.textContent.includes('regions.csv'))"
        )
        await page.wait_for(
            "[...document.querySelectorAll('#thread-messages .message')].some(m => "
            "m.textContent.includes('You said:') && m.textContent.includes('thanks, from Ben'))",
            20,
        )
        # He corrects his message: it says so.
        ben = "[...document.querySelectorAll('#thread-messages .message')].find(m => m.textContent.includes('thanks, from Ben'))"
        await page.evaluate(f"{ben}.querySelector('[data-edit]').click()")
        await page.wait_for("document.querySelector('#thread-messages .editing textarea')")
        await page.evaluate(
            "document.querySelector('#thread-messages .editing textarea').value = 'thanks a lot, from Ben'"
        )
        await page.click("#thread-messages .editing .save")
        await page.wait_for(
            "[...document.querySelectorAll('#thread-messages .message')].some(m => "
            "m.textContent.includes('thanks a lot, from Ben') && m.querySelector('.edited'))"
        )
        await page.screenshot(ARTIFACTS / "06-ben-in-the-thread.png")

        # Ben runs /claude from the channel's composer: the answer is only for him.
        await page.type_text("#main-composer textarea", "/claude help")
        await page.press_key("Enter", "Enter", 13)
        await page.wait_for(
            "[...document.querySelectorAll('#messages .message.ephemeral')].some(m => "
            "m.textContent.includes('Only visible to you') && m.textContent.includes('/claude'))",
            15,
        )
        await page.screenshot(ARTIFACTS / "07-slash-command.png")

        # The app's Home tab, as the bot publishes it for him.
        await page.click("#open-home")
        await page.wait_for(
            "!document.querySelector('#home').hidden && document.querySelector('#home .block')", 15
        )
        await page.screenshot(ARTIFACTS / "08-home-tab.png")
        assert not [line for line in page.console if line.startswith("exception")], page.console


async def test_an_admin_sets_up_the_channels_assistant_in_the_page(chromium: str, playground: str) -> None:
    async with Browser(chromium) as page:
        await page.goto(playground)
        await page.wait_for("document.querySelector('#bot-state').dataset.state === 'ready'", 30)
        # Ana (an admin) runs /claude config: the app's modal shows as a form, with what #general has.
        await page.type_text("#main-composer textarea", "/claude config")
        await page.press_key("Enter", "Enter", 13)
        await page.wait_for("!document.querySelector('#modal').hidden", 15)
        assert "Channel assistant" in await page.evaluate("document.querySelector('#modal h4').textContent")
        await page.click("#modal [data-block-id=preset] input[value=sql]")
        await page.evaluate(
            "document.querySelector('#modal [data-block-id=budget_daily] input').value = 'twenty'"
        )
        await page.click("#modal button[type=submit]")
        # What the bot cannot take is shown under its field; the rest of the form is kept.
        await page.wait_for("document.querySelector('#modal .modal-error')", 15)
        assert await page.evaluate(
            "document.querySelector('#modal [data-block-id=preset] input[value=sql]').checked"
        )
        await page.screenshot(ARTIFACTS / "09-config-error.png")
        await page.evaluate(
            "document.querySelector('#modal [data-block-id=budget_daily] input').value = '20'"
        )
        await page.click("#modal button[type=submit]")
        await page.wait_for("document.querySelector('#modal').hidden", 15)
        await page.wait_for(
            "[...document.querySelectorAll('#messages .message.ephemeral')].some(m => "
            "m.textContent.includes('Saved.') && m.textContent.includes('Terse SQL helper'))",
            15,
        )
        await page.screenshot(ARTIFACTS / "10-config-saved.png")
        assert not [line for line in page.console if line.startswith("exception")], page.console
