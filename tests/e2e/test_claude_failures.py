"""What the bot does with what Anthropic answers when it is not an answer (issue 12, items 2-5, 8):
outages, expired sandboxes, streams that break mid-answer, refusals, deleted files, long waits."""

from __future__ import annotations

import email.utils
import io
import json
import time

import pytest
from PIL import Image

from emulators.anthropic import (
    AnthropicEmulator,
    ByText,
    CallTool,
    Cut,
    Delay,
    Python,
    Say,
    Script,
    Step,
    StepContext,
    Stop,
)
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import (
    bot_messages,
    bot_text,
    container_of,
    got,
    sent,
    wait_finished,
    wait_for_text,
    wait_stop_button,
)


def _png() -> bytes:
    """A real 4x4 PNG: the emulator decodes images as the API does (a corrupt one is a 400)."""
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def n_is(ctx: StepContext) -> str:
    out = ctx.last_output
    return f"n is {out.stdout.strip() if out and out.stdout.strip() else 'unknown'}."


def retry_message(slack: SlackEmulator, root: str) -> str | None:
    return next((m.ts for m in slack.thread_view("general", root) if "retry_turn" in str(m.blocks)), None)


# --- item 2: an outage is not an expired container ------------------------------------------------


async def test_an_outage_keeps_the_sandbox_and_offers_retry(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText(
        {"set": [Python("n = 41"), Say("n is set.")], "add": [Python("print(n + 1)"), Say(n_is)]}
    )
    await start_bot(anthropic_max_retries="1")
    root = await slack.post_message("ana", "general", "set n", mention_bot=True)
    await wait_finished(slack, "general", root)
    container = got(claude.requests[0])["container"]["id"]
    claude.outage(status=500)  # every request fails, with or without a container
    await slack.post_message("ana", "general", "add one", thread_ts=root)
    await wait_for_text(slack, "general", root, "Claude is overloaded")
    await slack.wait_for(lambda: retry_message(slack, root) is not None, what="the Retry button")
    assert "sandbox had expired" not in bot_text(slack, "general", root)
    # It did try without the container (which would have worked, had the container been gone).
    assert any(r.body and container_of(r.body) is None for r in claude.requests[1:])
    claude.end_outage()
    ts = retry_message(slack, root)
    assert ts is not None
    await slack.press_button("ana", "general", ts, "retry_turn")
    await wait_for_text(slack, "general", root, "n is 42.")  # the REPL survived the outage
    assert container_of(sent(claude.requests[-1])) == container


async def test_a_container_gone_behind_a_bare_500_is_replaced(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"again": [Say("Answered again.")], "first": [Python("n = 1"), Say("n is 1.")]})
    await start_bot()
    root = await slack.post_message("ana", "general", "first question", mention_bot=True)
    await wait_finished(slack, "general", root)
    old = got(claude.requests[0])["container"]["id"]
    claude.expire_container(old)  # the default expiry error: an untyped 500, x-should-retry: false
    await slack.post_message("ana", "general", "again please", thread_ts=root)
    text = await wait_for_text(slack, "general", root, "Answered again.")
    assert "sandbox had expired" in text
    # One failed request (the API said not to retry it), then the same turn without the container.
    assert [r.status for r in claude.requests[1:]] == [500, 200]
    assert container_of(sent(claude.requests[1])) == old and container_of(sent(claude.requests[2])) is None


# --- item 3: a response that broke off is continued, not run again --------------------------------


def counting(work: list[Step]) -> ByText:
    """A model that does the same work again for the same request (as a real model would)."""
    return ByText(
        {"set n": [Python("n = 0"), Say("n is 0.")], "increment": work},
        default=[Python("print(n)"), Say(n_is)],
    )


async def test_a_response_cut_after_its_code_ran_is_not_run_again(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = counting([Say("Counting."), Python("n += 1\nprint(n)"), Cut("reset"), Say("Counted.")])
    await start_bot()
    root = await slack.post_message("ana", "general", "set n", mention_bot=True)
    await wait_finished(slack, "general", root)
    await slack.post_message("ana", "general", "increment n", thread_ts=root)
    await wait_finished(slack, "general", root, count=2)
    text = bot_text(slack, "general", root)
    assert "dropped mid-answer" in text and text.count("Counting.") == 1
    # The request after the cut carried what had arrived and said it was cut off.
    after_cut = sent(claude.requests[-1])["messages"]
    assert any(b.get("type") == "code_execution_tool_result" for b in after_cut[-2]["content"])
    assert "cut off" in json.dumps(after_cut[-1])
    await slack.post_message("ana", "general", "what is n now?", thread_ts=root)
    await wait_for_text(slack, "general", root, "n is 1.")  # the cell ran once


async def test_a_cut_after_a_programmatic_call_posts_its_note_once(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    cell = "n += 1\nawait post_update({'text': 'incremented once'})\nprint(n)"
    claude.model = counting([Python(cell), Cut("error"), Say("Done.")])
    await start_bot()
    root = await slack.post_message("ana", "general", "set n", mention_bot=True)
    await wait_finished(slack, "general", root)
    await slack.post_message("ana", "general", "increment n", thread_ts=root)
    await wait_for_text(slack, "general", root, "n is 1.")
    await wait_finished(slack, "general", root, count=2)
    text = bot_text(slack, "general", root)
    assert text.count("incremented once") == 1 and "rejected" not in text, text


# --- item 4: refusals -----------------------------------------------------------------------------

REFUSED_TEXT = "Here is how to get around the safeguards: first"
EXPLANATION = "This request was declined because it could enable cyber harm."


@pytest.mark.parametrize(
    ("pause", "streaming"),
    [(0.0, True), (1.5, True), (1.5, False)],
    ids=["refused-before-shown", "refused-after-streaming", "refused-in-a-plain-message"],
)
async def test_a_refused_answer_is_taken_back(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, pause: float, streaming: bool
) -> None:
    claude.model = ByText(
        {
            "safeguards": [
                Say("Let me look."),
                CallTool("post_update", {"text": "looking"}),  # the first response ends here
                Python("print('checked')"),
                Say(REFUSED_TEXT),
                Delay(pause),  # long enough for the text to reach the thread first
                Stop("refusal", category="cyber", explanation=EXPLANATION),
            ],
            "weather": [Say("Sunny.")],
        }
    )
    if not streaming:
        slack.fail_next("chat.startStream", error="not_allowed_token_type")
    await start_bot(stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "get around the safeguards", mention_bot=True)
    # Its last word is not shown while the answer pauses after it: a word may go on (boundaries.py).
    shown = REFUSED_TEXT.rsplit(" ", 1)[0]
    if pause:
        await wait_for_text(slack, "general", root, shown)
    text = await wait_finished(slack, "general", root)
    assert shown not in text and f"Claude declined this request: {EXPLANATION}" in text, text
    assert "Let me look." in text and "looking" in text  # the turn's earlier response stands
    assert len(bot_messages(slack, "general", root)) == 1
    # The refused turn is not in the conversation any more.
    await slack.post_message("ana", "general", "and the weather?", thread_ts=root)
    await wait_for_text(slack, "general", root, "Sunny.")
    history = json.dumps(sent(claude.requests[-1])["messages"])
    assert REFUSED_TEXT not in history and "safeguards" not in history and "declined" in history


# --- item 5: file lifecycle -----------------------------------------------------------------------


async def test_files_made_by_a_stopped_turn_are_deleted_with_the_session(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [
            [
                Python("open(__import__('os').environ['OUTPUT_DIR'] + '/part.csv', 'w').write('a\\n1\\n')"),
                Say("Saved a part; now the long run."),
                Python("import time\ntime.sleep(30)"),
                Say("Never."),
            ]
        ]
    )
    await start_bot(stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "make files", mention_bot=True)
    await wait_for_text(slack, "general", root, "now the long run")
    made = [f.id for f in claude.files.values() if f.downloadable]
    assert len(made) == 1
    await slack.press_button("ana", "general", await wait_stop_button(slack, "general", root), "stop_turn")
    await wait_finished(slack, "general", root)
    answer = next(m for m in bot_messages(slack, "general", root) if "new_session" in str(m.blocks))
    await slack.press_button("ana", "general", answer.ts, "new_session")
    await wait_for_text(slack, "general", root, "started a new session")
    await slack.wait_for(lambda: made[0] not in claude.files, what="the stopped turn's file deleted")


async def test_files_deleted_for_retention_leave_the_history(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"look": [Say("Looked at both.")], "next": [Say("Next answered.")]})
    settings = {"file_retention_days": "0.000001", "lease_seconds": "3"}  # about 0.1 s
    bot = await start_bot(**settings)
    root = await slack.post_message(
        "ana",
        "general",
        "look at these",
        mention_bot=True,
        files=[("data.csv", b"a\n1\n", "text/csv"), ("chart.png", PNG, "image/png")],
    )
    await wait_finished(slack, "general", root)
    first = sent(claude.requests[0])["messages"][-1]["content"]
    kinds = {b["type"] for b in first}
    assert {"container_upload", "image"} <= kinds
    # Retention runs when the bot starts (then hourly): the restarted bot deletes both files.
    await bot.stop()
    await start_bot(**settings)
    await slack.wait_for(lambda: not claude.files, what="the files deleted for retention")
    await slack.post_message("ana", "general", "next one", thread_ts=root)
    text = await wait_for_text(slack, "general", root, "Next answered.")
    assert "no longer available" not in text
    history = json.dumps(sent(claude.requests[-1])["messages"])
    assert "since deleted by the bot" in history and "data.csv" in history
    assert '"container_upload"' not in history and '"image"' not in history


# --- item 8: long waits ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_a_long_retry_after_ends_the_turn_with_retry_and_a_time(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, form: str
) -> None:
    claude.model = ByText({"question": [Say("Answered after the wait.")]})
    await start_bot()
    wait = 2 * 3600
    back = time.time() + wait
    claude.fail_next(
        status=429,
        times=1,
        retry_after=wait if form == "seconds" else email.utils.formatdate(back, usegmt=True),
    )
    root = await slack.post_message("ana", "general", "a question", mention_bot=True)
    await slack.wait_for(lambda: retry_message(slack, root) is not None, what="the Retry button")
    text = bot_text(slack, "general", root)
    times = {time.strftime("%H:%M UTC", time.gmtime(back + d)) for d in (-2, 0, 10)}
    assert "Anthropic asked the bot to wait 2.0 hours" in text and any(t in text for t in times), text
    assert len(claude.requests) == 1  # it did not retry before the time it was given
    ts = retry_message(slack, root)
    assert ts is not None
    await slack.press_button("ana", "general", ts, "retry_turn")
    await wait_for_text(slack, "general", root, "Answered after the wait.")


async def test_a_short_retry_after_is_waited_out(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"question": [Say("Answered after the wait.")]})
    await start_bot()
    claude.fail_next(status=429, times=1, retry_after=1)
    root = await slack.post_message("ana", "general", "a question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Answered after the wait.")
    assert [r.status for r in claude.requests] == [429, 200]
