"""What people and admins see (issue 13): the Home tab (a person's usage; an admin's spending as a chart
and a table, top channels and people, turns and errors, channel budgets), `/claude usage`, and the
channel budgets admins set with `/claude budget`."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

from emulators.anthropic import AnthropicEmulator, ByText, Say
from emulators.slack import SlackEmulator
from emulators.slack.home import HomeTab
from emulators.slack.view import ViewFile
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_text, wait_finished, wait_for_text

ADMIN = "dev"


def has_chart(tab: HomeTab) -> bool:
    return bool(tab.images) and tab.images[0].file is not None


async def home(
    slack: SlackEmulator,
    user: str,
    ok: Callable[[HomeTab], bool] = lambda _: True,
    what: str = "the Home tab",
) -> HomeTab:
    """The person's Home tab, once it shows what `ok` wants."""

    def shown() -> HomeTab | None:
        tab = slack.home_tab(user)
        return tab if tab is not None and ok(tab) else None

    tab = await slack.wait_for(shown, timeout=30, what=what)
    assert tab is not None
    return tab


def chart_file(tab: HomeTab) -> ViewFile:
    file = tab.images[0].file
    assert file is not None
    return file


def audit_actions(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, action FROM audit ORDER BY id").fetchall()


async def test_the_home_tab_of_a_person_and_of_an_admin(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"first": [Say("One.")], "second": [Say("Two.")]})
    bot = await start_bot(admins=slack.dev, budget_user_daily_usd="5")
    root = await slack.post_message("ana", "general", "first question", mention_bot=True)
    await wait_finished(slack, "general", root)
    await bot.wait_for_line("ended: answered")  # its cost is in the store

    await slack.open_home_tab("ana")
    mine = await home(slack, "ana")
    assert "*What you have spent on Claude*" in mine.text and "of $5.00" in mine.text
    assert "Spending (admins only)" not in mine.text and mine.images == []

    await slack.open_home_tab(ADMIN)
    tab = await home(slack, ADMIN, has_chart, "the admin's chart")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert "Spending (admins only)" in tab.text and "*The whole workspace*" in tab.text
    assert f"{today}  " in tab.text and "1. <#C0123ABCD>:" in tab.text and f"1. <@{slack.ana}>:" in tab.text
    assert "*Turns:* 1 (answered 1)" in tab.text and "*Errors:* 0" in tab.text
    assert "*Channel budgets*" in tab.text
    [image] = tab.images
    chart = chart_file(tab)
    assert chart.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.alt_text.startswith("Bar chart of spend per day over the last 30 days")
    # Uploaded without a channel: shared nowhere, private to the app.
    assert slack.core.ws.files[chart.id].shares == []
    uploads = len(slack.calls_to("files.getUploadURLExternal"))

    # Opened again with nothing new: the same chart, at once.
    published = len(slack.calls_to("views.publish", ok=True))
    await slack.open_home_tab(ADMIN)
    await slack.wait_for(lambda: len(slack.calls_to("views.publish", ok=True)) > published)
    assert chart_file(await home(slack, ADMIN)).id == chart.id
    assert len(slack.calls_to("files.getUploadURLExternal")) == uploads

    # New spending: a new chart, and the one it replaced is deleted once the new one shows.
    second = await slack.post_message("ben", "general", "second question", mention_bot=True)
    await wait_finished(slack, "general", second)
    await bot.wait_until(lambda lines: sum("ended: answered" in line for line in lines) == 2)
    await slack.open_home_tab(ADMIN)

    def replaced(tab: HomeTab) -> bool:
        return has_chart(tab) and chart_file(tab).id != chart.id and "*Turns:* 2" in tab.text

    await home(slack, ADMIN, replaced, "a new chart")
    await slack.wait_for(lambda: slack.core.ws.files[chart.id].deleted, what="the old chart deleted")
    # Ana's own tab never shows the workspace's spending.
    published = len(slack.calls_to("views.publish", ok=True))
    await slack.open_home_tab("ana")
    await slack.wait_for(lambda: len(slack.calls_to("views.publish", ok=True)) > published)
    assert "Spending (admins only)" not in (await home(slack, "ana")).text


async def test_usage_and_channel_budgets(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = ByText({"first": [Say("One.")], "again": [Say("Answered again.")]})
    await start_bot(admins=slack.dev, budget_user_daily_usd="5", budget_channel_daily_usd="10")
    root = await slack.post_message("ana", "general", "first question", mention_bot=True)
    await wait_finished(slack, "general", root)

    usage = str(await slack.run_slash_command("ana", "general", "/claude", "usage"))
    assert "*What you have spent on Claude*" in usage and "of $5.00" in usage
    assert "In <#C0123ABCD> today:" in usage and "of $10.00" in usage

    refused = str(await slack.run_slash_command("ana", "general", "/claude", "budget daily 0"))
    assert "Only the bot's admins can change budgets. Ask <@U0456DEFG>." in refused
    changed = str(await slack.run_slash_command(ADMIN, "general", "/claude", "budget daily 0 monthly 200"))
    assert "Budgets of <#C0123ABCD> changed: daily $0.00, monthly $200.00." in changed
    assert "• Daily: $0.00, set by an admin (the default is $10.00)" in changed
    shown = str(await slack.run_slash_command("ben", "general", "/claude", "budget"))
    assert "• Monthly: $200.00, set by an admin (the default is none)" in shown

    # The channel's own budget applies at once: nothing more may be spent here today.
    blocked = await slack.post_message("ana", "general", "ask again", mention_bot=True)
    text = await wait_finished(slack, "general", blocked)
    assert "I didn't start on this: this channel's daily budget for Claude ($0.00) is used up" in text
    assert len(claude.requests) == 1

    # The admin's Home tab lists it; `off` gives the channel its defaults back.
    await slack.open_home_tab(ADMIN)
    tab = await home(slack, ADMIN)
    assert "• <#C0123ABCD>: daily $0.00, monthly $200.00" in tab.text
    assert "Default: daily $10.00, monthly none" in tab.text
    await slack.run_slash_command(ADMIN, "general", "/claude", f"budget <#{slack.general}|general> off")
    answered = await slack.post_message("ana", "general", "again please", mention_bot=True)
    await wait_for_text(slack, "general", answered, "Answered again.")
    assert "used up" not in bot_text(slack, "general", answered)

    actions = await asyncio.to_thread(audit_actions, tmp_path / "bot.db")
    assert actions == [
        (slack.ana, "budget_refused"),
        (slack.dev, "budget"),
        (slack.dev, "budget"),
    ]
