"""A replica killed mid-answer: its turn runs again on the other replica. What it had shown stays in the
thread marked interrupted, and the whole answer follows: the question is answered once, never dropped
with a request to send it again (the soak suite, tests/chaos, found such messages lost)."""

from __future__ import annotations

from emulators.anthropic import AnthropicEmulator, Delay, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, wait_for_text

INTERRUPTED = "(interrupted: the bot restarted)"


async def test_a_turn_cut_by_a_crash_runs_again_after_its_partial_answer_is_marked(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [
            [Say("Part one."), Delay(30), Say(" Part two, never reached.")],
            [Say("Part one. Part two, the whole answer.")],
        ]
    )
    settings = {"database_url": pg_url, "lease_seconds": "3", "stream_update_seconds": "0.2"}
    doomed = await start_bot(**settings)
    root = await slack.post_message("ana", "general", "a long question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Part one.")
    await doomed.kill()
    survivor = await start_bot(**settings)

    await wait_for_text(slack, "general", root, "the whole answer", timeout=20)
    await survivor.wait_for_line(r"turn \w+ in .* ended: answered")
    texts = [m.text for m in bot_messages(slack, "general", root)]
    partial = [t for t in texts if "Part one." in t and "whole" not in t]
    assert len(partial) == 1 and INTERRUPTED in partial[0], texts
    whole = [t for t in texts if "the whole answer" in t]
    assert len(whole) == 1 and INTERRUPTED not in whole[0], texts
    assert not any("Send your message again" in t for t in texts)
    assert any("answering again" in t for t in texts)
    # The question was asked once more, whole: not continued from the partial answer.
    assert len(claude.requests) == 2
    assert "a long question" in str(claude.requests[1].body)
    assert "Part one." not in str(claude.requests[1].body)
