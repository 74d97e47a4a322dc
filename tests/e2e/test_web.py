"""The web beside code execution (issue 16, part 2): a search shows as a step, the answer's sources
are numbered links under it, a blocked site never reaches Claude, and the sandbox time of such a
turn is not billed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulators.anthropic import AnthropicEmulator, Cite, PauseTurn, Python, Say, Script, WebSearch
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, got, sent, wait_finished
from tests.e2e.test_spending import by_hand, wait_rows

ECB = "https://www.ecb.europa.eu/press/rates"
STATS = "https://data.stats.example.org/inflation"
BLOG = "https://rates.blogspot.com/ecb-hike"


def add_pages(claude: AnthropicEmulator) -> None:
    claude.web.add(ECB, "Key ECB interest rates", "The deposit facility rate is 2.00% since June.")
    claude.web.add(
        STATS,
        "Euro area inflation",
        "Euro area inflation is 2.1%, near the ECB target; the deposit rate is unchanged.",
    )
    claude.web.add(BLOG, "My take on the ECB deposit rate", "The deposit rate will surely rise, trust me.")


def plain(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks as the API sent them: without the cache breakpoints the bot marks on its requests."""
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]


def web_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body["tools"] if str(t.get("type", "")).startswith("web_")]


async def test_a_search_shows_as_a_step_and_its_sources_are_numbered_links(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    add_pages(claude)
    claude.model = Script(
        [
            [
                WebSearch("ECB deposit rate"),
                Cite("The ECB's deposit rate is 2.00%.", ECB),
                Say(" Inflation is close to target"),
                Cite(", at 2.1%.", STATS),
                Cite(" Rates are unchanged since June.", ECB),
            ]
        ]
    )
    await start_bot(web_search="true", web_fetch="true", web_blocked_domains="blogspot.com")
    root = await slack.post_message("ana", "general", "what is the ECB deposit rate now?", mention_bot=True)
    text = await wait_finished(slack, "general", root)

    assert "The ECB's deposit rate is 2.00%. [1]" in text
    assert ", at 2.1%. [2]" in text and "since June. [1]" in text
    assert "**Sources**" in text
    assert f"[1] [Key ECB interest rates]({ECB})" in text
    assert f"[2] [Euro area inflation]({STATS})" in text
    cards = [c for m in bot_messages(slack, "general", root) for c in m.tasks.values()]
    assert [c.title for c in cards] == ["Searching the web: ECB deposit rate"]
    assert cards[0].status == "complete" and "Key ECB interest rates" in cards[0].output

    body = sent(claude.requests[0])
    assert web_tools(body) == [
        {"type": "web_search_20260318", "name": "web_search", "blocked_domains": ["blogspot.com"]},
        {"type": "web_fetch_20260318", "name": "web_fetch", "blocked_domains": ["blogspot.com"]},
    ]
    # The blocked blog matches the query too, but never reaches Claude.
    result = got(claude.requests[0])["content"][1]
    assert [r["url"] for r in result["content"]] == [ECB, STATS]
    assert "search the web with `web_search`" in body["system"][0]["text"]
    # The search is billed: $10 per 1,000 (pricing.py), on top of the tokens.
    (row,) = await wait_rows(tmp_path / "bot.db", 1)
    assert row["web_search_requests"] == 1
    assert row["cost_micros"] == by_hand(got(claude.requests[0])["usage"]) + 10_000


async def test_a_follow_up_sends_the_results_back_unchanged_and_a_paused_search_goes_on(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    add_pages(claude)
    claude.model = Script(
        [
            [PauseTurn(dangling=WebSearch("ECB deposit rate")), Cite("It is 2.00%.", ECB)],
            [Say("Still 2.00%, as found above.")],
        ]
    )
    await start_bot(web_search="true")
    root = await slack.post_message("ana", "general", "ECB deposit rate?", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "It is 2.00%. [1]" in text
    await slack.post_message("ben", "general", "and now?", thread_ts=root)
    text = await wait_finished(slack, "general", root, count=2)
    assert "Still 2.00%" in text
    assert [r.status for r in claude.requests] == [200, 200, 200]
    _, resumed, follow_up = (sent(r) for r in claude.requests)
    assert plain(resumed["messages"][-1]["content"]) == got(claude.requests[0])["content"]
    first_answer = got(claude.requests[0])["content"] + got(claude.requests[1])["content"]
    history = plain([b for m in follow_up["messages"] if m["role"] == "assistant" for b in m["content"]])
    results = [b for b in history if b["type"] == "web_search_tool_result"]
    assert results == [b for b in first_answer if b["type"] == "web_search_tool_result"]
    cited = [b for b in history if b.get("citations")]
    assert [c["citations"][0]["encrypted_index"] for c in cited] == [
        b["citations"][0]["encrypted_index"] for b in first_answer if b.get("citations")
    ]


async def test_sandbox_time_is_free_in_turns_with_web_tools(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    """The same code run, with web search offered and without: only the second turn pays the
    5-minute minimum (code execution is free in requests with web_search_20260209+, pricing)."""
    claude.model = Script([[Python("print(6 * 7)"), Say("42.")], [Python("print(7 * 8)"), Say("56.")]])
    bot = await start_bot(web_search="true", container_free_hours="0")
    first = await slack.post_message("ana", "general", "compute", mention_bot=True)
    await wait_finished(slack, "general", first)
    await wait_rows(tmp_path / "bot.db", 1)
    await bot.stop()
    await start_bot(container_free_hours="0")
    second = await slack.post_message("ana", "general", "compute again", mention_bot=True)
    await wait_finished(slack, "general", second)
    with_web, without = await wait_rows(tmp_path / "bot.db", 2)
    assert web_tools(sent(claude.requests[0])) and not web_tools(sent(claude.requests[1]))
    assert with_web["container_seconds"] == 0
    assert without["container_seconds"] == 300
    assert without["cost_micros"] - by_hand(got(claude.requests[1])["usage"]) == round(300 * 50_000 / 3600)
    assert with_web["cost_micros"] == by_hand(got(claude.requests[0])["usage"])
