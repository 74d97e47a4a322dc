"""Per-channel assistants (issue 16, part 4): `/claude config` opens a modal for the channel's creator
and admins only; what they save is stored, audited, shown by `/claude status`, and shapes the next
request of that channel, and of no other."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.connectors.demo import build
from emulators.anthropic import AnthropicEmulator, Python, Say, StepContext
from emulators.slack import SlackEmulator, ViewMessage
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import sent, wait_finished

DEFAULT_MODEL = "claude-sonnet-5"


def printed(ctx: StepContext) -> str:
    out = ctx.last_output
    return f"Result: {out.stdout.strip() if out else ''}"


def audit_rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, action, channel_id, detail FROM audit ORDER BY id").fetchall()


def told(slack: SlackEmulator, user: str, channel: str = "general") -> list[ViewMessage]:
    return [m for m in slack.channel_view(channel, viewer=user) if m.ephemeral_to == user]


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(b["text"] for b in body["system"])


def tool_types(body: dict[str, Any]) -> set[str]:
    return {str(t.get("type") or t.get("name")) for t in body["tools"]}


async def ask(slack: SlackEmulator, claude: AnthropicEmulator, channel: str, text: str) -> dict[str, Any]:
    """Ask in a new thread; the body of the request it caused."""
    before = len(claude.requests)
    root = await slack.post_message("ana", channel, text, mention_bot=True)
    await wait_finished(slack, channel, root)
    [request] = claude.requests[before:]
    return sent(request)


def has_modal(slack: SlackEmulator, user: str) -> Callable[[], bool]:
    return lambda: slack.modal(user) is not None


async def open_config(slack: SlackEmulator, user: str, channel: str = "general") -> dict[str, Any]:
    return await slack.run_slash_command(user, channel, "/claude", "config")


async def test_saved_settings_shape_the_next_request_of_that_channel_only(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = lambda request: [Say("Done.")]
    sales = slack.add_channel("sales")
    await start_bot(admins=slack.dev, channel_models="claude-opus-5,claude-haiku-5-5")
    before = await ask(slack, claude, "general", "how many orders?")
    assert before["model"] == DEFAULT_MODEL and "# This channel" not in system_text(before)

    assert await open_config(slack, slack.dev) == {}
    await slack.wait_for(lambda: slack.modal(slack.dev) is not None, what="the modal")
    modal = slack.modal(slack.dev)
    assert modal is not None and modal.title == "Channel assistant"
    ack = await slack.submit_modal(
        slack.dev,
        {
            "preset": "sql",
            "persona": "Amounts are in EUR.",
            "model": "claude-opus-5",
            "web": ["web_search"],
            "budget_daily": "12.50",
        },
    )
    assert ack == {} and slack.modal(slack.dev) is None
    [saved] = await slack.wait_for(lambda: told(slack, slack.dev), what="the confirmation")
    assert "Saved." in saved.text and "Terse SQL helper" in saved.text and "$12.50 (set here)" in saved.text

    after = await ask(slack, claude, "general", "and now?")
    assert after["model"] == "claude-opus-5"
    system = system_text(after)
    assert "# This channel" in system and "```sql block" in system and system.rstrip().endswith("EUR.")
    assert any(t.startswith("web_search") for t in tool_types(after))

    elsewhere = await ask(slack, claude, sales, "how many orders in sales?")
    assert elsewhere["model"] == DEFAULT_MODEL and "# This channel" not in system_text(elsewhere)
    assert not any(t.startswith("web_") for t in tool_types(elsewhere))

    status = await slack.run_slash_command(slack.ana, "general", "/claude", "status")
    assert "Terse SQL helper" in status["text"] and "`claude-opus-5`" in status["text"]
    budget = await slack.run_slash_command(slack.ana, "general", "/claude", "budget")
    assert "$12.50, set by an admin" in budget["text"]
    rows = await asyncio.to_thread(audit_rows, tmp_path / "bot.db")
    [(actor, _, channel, detail)] = [r for r in rows if r[1] == "channel_config"]
    assert (actor, channel) == (slack.dev, slack.general)
    assert json.loads(detail)["changes"] == {
        "preset": "sql",
        "persona": "Amounts are in EUR.",
        "model": "claude-opus-5",
        "web_search": True,
        "budget_daily_usd": 12.5,
    }


async def test_only_the_channels_creator_and_admins_can_open_it(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    slack.add_channel("sales")
    slack.set_channel_creator("general", slack.ana)
    slack.make_workspace_admin(slack.chloe)
    await start_bot(admins="U0999ADMIN")

    refused = await open_config(slack, slack.ben)
    assert (
        "Only this channel's creator, workspace admins and the bot's admins (<@U0999ADMIN>)"
        in refused["text"]
    )
    assert slack.modal(slack.ben) is None and slack.calls_to("views.open") == []
    # The creator of a channel shared with another organisation, when that organisation's people may
    # not use the bot (the default), may not configure it either.
    partner = slack.add_user("pat", team_id="T0PARTNER")
    slack.add_to_channel(partner, "sales")
    slack.set_channel_creator("sales", partner)
    assert "Only this channel's creator" in (await open_config(slack, partner, "sales"))["text"]

    for allowed in (slack.ana, slack.chloe):  # the creator; a workspace admin
        assert await open_config(slack, allowed) == {}
        await slack.wait_for(has_modal(slack, allowed), what="the modal")
    rows = await asyncio.to_thread(audit_rows, tmp_path / "bot.db")
    assert [(r[0], r[1]) for r in rows] == [(slack.ben, "config_refused"), (partner, "config_refused")]
    assert claude.requests == []


async def test_invalid_input_is_shown_in_the_modal_and_nothing_is_stored(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    await start_bot(admins=slack.dev)
    await open_config(slack, slack.dev)
    await slack.wait_for(lambda: slack.modal(slack.dev) is not None, what="the modal")
    ack = await slack.submit_modal(slack.dev, {"budget_daily": "twenty", "persona": "Be brief."})
    modal = slack.modal(slack.dev)
    assert ack["response_action"] == "errors" and modal is not None
    assert set(modal.errors) == {"budget_daily"} and "in dollars" in modal.errors["budget_daily"]
    status = await slack.run_slash_command(slack.dev, "general", "/claude", "status")
    assert "deployment's defaults" in status["text"]


async def test_a_change_saved_through_one_replica_applies_on_the_other(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = lambda request: [Say("Done.")]
    settings = {"database_url": pg_url, "admins": slack.dev, "channel_settings_reload_seconds": "0.3"}
    bots = [await start_bot(**settings), await start_bot(**settings)]
    await slack.wait_for(lambda: len(slack.open_connections) == 2, what="both replicas connected")
    await open_config(slack, slack.dev)
    await slack.wait_for(has_modal(slack, slack.dev), what="the modal")
    await slack.submit_modal(slack.dev, {"persona": "Amounts are in EUR."})
    await slack.wait_for(lambda: told(slack, slack.dev), what="the confirmation")
    # The replica that took the submission audited it; the other learns of it from the database.
    saver = next(b for b in bots if any("channel_config" in line for line in b.lines))
    other = next(b for b in bots if b is not saver)
    await other.wait_for_line(f"the settings of channel {slack.general} changed")
    await saver.kill()
    await slack.wait_for(lambda: len(slack.open_connections) == 1, what="only the other replica connected")
    body = await ask(slack, claude, "general", "how many orders?")
    assert system_text(body).rstrip().endswith("Amounts are in EUR.")


async def test_a_channel_without_data_sources_cannot_query_them(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    db = build(tmp_path / "demo.db")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: shop\n    url: sqlite:///{db}\n    description: The demo shop.\n"
    )
    query = 'print(await sql_query({"source": "shop", "query": "SELECT count(*) FROM orders"}))'
    claude.model = lambda request: [Python(query), Say(printed)]
    sales = slack.add_channel("sales")
    await start_bot(admins=slack.dev, data_sources_file=str(sources))
    await open_config(slack, slack.dev)
    await slack.wait_for(has_modal(slack, slack.dev), what="the modal")
    assert await slack.submit_modal(slack.dev, {"sources": []}) == {}
    await slack.wait_for(lambda: told(slack, slack.dev), what="the confirmation")

    root = await slack.post_message("ana", "general", "how many orders?", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "Refused: the source 'shop' is not available in this channel (its sources: none)" in text
    assert "no company data sources" in system_text(sent(claude.requests[-1]))
    root = await slack.post_message("ana", sales, "how many orders?", mention_bot=True)
    text = await wait_finished(slack, sales, root)
    assert "Refused" not in text and '"rows": [[' in text
