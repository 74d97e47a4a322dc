"""The first end-to-end test: a person mentions the bot, the scripted model answers, in the thread."""

from __future__ import annotations

import json
import re

import aiohttp

from emulators.anthropic import AnthropicEmulator, Python, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import sent, wait_finished
from tests.harness import free_port


async def test_mention_is_answered_in_its_thread(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("Hello Ana! The sandbox is ready.")]])
    bot = await start_bot()
    ts = await slack.post_message("ana", "general", "hello there", mention_bot=True)

    def answered() -> bool:
        return any("The sandbox is ready" in m.text for m in slack.thread_view("general", ts) if m.is_bot)

    await slack.wait_for(answered, timeout=20)
    replies = [m for m in slack.thread_view("general", ts) if m.is_bot]
    assert len(replies) == 1
    assert replies[0].thread_ts == ts
    request = sent(claude.requests[0])
    assert "(<@U0123ABCD>): hello there" in str(request["messages"][-1])
    assert any(t.get("type") == "code_execution_20260120" for t in request["tools"])
    assert await bot.stop() == 0


async def test_structured_logs_and_metrics(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    port, metrics_port = free_port(), free_port()
    claude.model = Script([[Python("print(1)"), Say("Done.")]])
    bot = await start_bot(
        log_format="json", port=str(port), metrics_port=str(metrics_port), metrics_token="scrape-me-please"
    )
    root = await slack.post_message("ana", "general", "count", mention_bot=True)
    await wait_finished(slack, "general", root)
    await bot.wait_for_line("ended: answered")
    entries = [json.loads(line) for line in bot.lines]
    turn_lines = [e for e in entries if "turn" in e]
    assert turn_lines and all(e["thread"].endswith(root) for e in turn_lines)
    assert any("ended: answered" in e["message"] for e in turn_lines)
    async with aiohttp.ClientSession() as http:
        # On the public port, usage figures need the bearer token.
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 401
        async with http.get(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer wrong-token-here"}
        ) as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bearer scrape-me-please"}
        async with http.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as resp:
            assert resp.status == 200
            assert await resp.text() == (public := await resp.text())
        # METRICS_PORT serves them without a token, on the local address only.
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    assert "bot_turns_total" in public
    assert 'bot_turns_total{outcome="answered"} 1.0' in text
    assert "bot_first_feedback_seconds_count 1.0" in text
    output_tokens = re.search(r'^bot_tokens_total\{kind="output"\} (\S+)$', text, re.M)
    assert output_tokens and float(output_tokens.group(1)) > 0
    assert "bot_inbox_pending 0.0" in text
    assert "bot_turns_active 0.0" in text
