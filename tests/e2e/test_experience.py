"""What a person sees: live progress, task cards, fallbacks, long answers, stop, reset, /claude."""

from __future__ import annotations

import pytest

from bot.slack.render import open_fence
from emulators.anthropic import AnthropicEmulator, ByText, CallTool, Delay, Python, Say, Script, Step
from emulators.slack import DEFAULT_BOT_SCOPES, SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import (
    bot_messages,
    bot_text,
    container_of,
    got,
    poll_until,
    sent,
    stop_buttons,
    wait_finished,
    wait_for_text,
    wait_stop_button,
)


async def test_what_a_person_sees_for_a_turn_with_two_code_runs(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [
            [
                Say("Let me compute that."),
                Python("# Multiply\na = 6 * 7\nprint(a)"),
                Say(" Now double it."),
                Python("# Double it\nprint(a * 2)"),
                Say(" The answers are **42** and **84**."),
            ]
        ]
    )
    await start_bot()
    root = await slack.post_message("ana", "general", "compute please", mention_bot=True)
    await wait_finished(slack, "general", root)
    (answer,) = bot_messages(slack, "general", root)
    assert answer.text.startswith("Let me compute that.")
    assert answer.text.rstrip().endswith("The answers are **42** and **84**.")
    cards = list(answer.tasks.values())
    assert [c.title for c in cards] == ["Multiply", "Double it"]
    assert all(c.status == "complete" for c in cards)
    assert "a = 6 * 7" in cards[0].details and "42" in cards[0].output
    assert "print(a * 2)" in cards[1].details and "84" in cards[1].output
    # The order of what happened in the thread: working status first, the stream, then the status gone.
    methods = [c.method for c in slack.calls if c.method.startswith(("chat.", "assistant.threads.setStatus"))]
    assert methods[0] == "assistant.threads.setStatus" and methods.index("chat.startStream") < methods.index(
        "chat.stopStream"
    )
    statuses = slack.status_history("general", root)
    assert len(statuses) == 2 and statuses[0].status and statuses[-1].status == ""  # set once, cleared
    assert slack.current_status("general", root) == ""
    start = next(c for c in slack.calls if c.method == "chat.startStream")
    assert (
        start.params["recipient_user_id"] == slack.user_id("ana")
        and start.params["recipient_team_id"] == slack.team_id
    )


async def test_stream_failure_falls_back_without_losing_or_doubling_text(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    parts = ["Part one of the answer. ", "Part two of the answer. ", "Part three, the end."]
    claude.model = Script([[Say(parts[0]), Delay(1.0), Say(parts[1]), Delay(1.0), Say(parts[2])]])
    slack.fail_next("chat.appendStream", error="message_not_in_streaming_state", times=1)
    await start_bot(stream_update_seconds="0.3")
    root = await slack.post_message("ana", "general", "tell me", mention_bot=True)
    await wait_finished(slack, "general", root)
    assert any(c.method == "chat.appendStream" and not c.ok for c in slack.calls)
    text = bot_text(slack, "general", root)
    for part in parts:
        assert text.count(part.strip()) == 1, text
    assert "".join(text.split()) == "".join("".join(parts).split())


async def test_a_long_answer_is_split_with_balanced_fences(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    chunks: list[str] = []
    i = 0
    while sum(map(len, chunks)) < 30_000:
        chunks.append(f"Step {i}: here is what the code does and why it matters for the result.\n\n")
        chunks.append(
            "```python\n" + "".join(f"value_{i}_{j} = compute({j})\n" for j in range(30)) + "```\n\n"
        )
        i += 1
    answer = "".join(chunks)
    claude.model = Script([[Say(answer)]])
    await start_bot()
    root = await slack.post_message("ana", "general", "explain everything", mention_bot=True)
    await wait_finished(slack, "general", root)
    messages = bot_messages(slack, "general", root)
    assert len(messages) >= 3
    for m in messages:
        assert len(m.text) <= 12_000
        assert open_fence(m.text) is None, m.text[-300:]
    joined = "".join(m.text for m in messages)
    for line in answer.splitlines():
        if line and not line.startswith("```"):
            assert joined.count(line) == 1, line


async def test_stop_cancels_a_long_code_run(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [
            [
                Say("Starting a long run."),
                Python("import time\ntime.sleep(30)\nprint('done')"),
                Say("Finished."),
            ]
        ]
    )
    await start_bot(stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "run forever", mention_bot=True)
    await slack.wait_for(
        lambda: any(m.tasks for m in bot_messages(slack, "general", root)), what="the code step"
    )
    stop = await wait_stop_button(slack, "general", root)
    requests_before = len(claude.requests)
    await slack.press_button("ben", "general", stop, "stop_turn")
    await wait_for_text(slack, "general", root, "Stopped by <@")
    text = bot_text(slack, "general", root)
    assert "sandbox keeps whatever had already run" in text and "Finished." not in text
    assert len(claude.requests) == requests_before


async def test_a_stopped_turn_is_billed_for_what_it_used(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    # The first response ends with a tool call (complete, with its usage); the second never ends.
    claude.model = Script([[CallTool("post_update", {"text": "loaded"}), Delay(30), Say("Never.")]])
    await start_bot(stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "a long job", mention_bot=True)
    await wait_for_text(slack, "general", root, "loaded")
    await slack.press_button("ana", "general", await wait_stop_button(slack, "general", root), "stop_turn")
    await wait_finished(slack, "general", root)
    # The turn is recorded as it ends, just after its last message shows.
    status = ""

    async def billed() -> bool:
        nonlocal status
        status = str(await slack.run_slash_command("ana", "general", "/claude", "status"))
        return "1 turns" in status

    await poll_until(billed, timeout=10)
    assert " 0 input tokens" not in status, status


async def test_a_finished_answer_keeps_no_stop_button(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """A streamed message keeps every block it was sent, so a Stop streamed with the answer would
    stay on it once finished, looking live. The Stop is a message of its own while the turn runs,
    gone when it ends; the finished answer has New session."""
    long_run: list[Step] = [
        Say("Starting a long run."),
        Python("import time\ntime.sleep(30)\nprint('done')"),
        Say("Finished."),
    ]
    claude.model = Script([[Say("First answer."), Python("x = 1"), Delay(4.0), Say(" Done.")], long_run])
    await start_bot(stream_update_seconds="0.2")
    root = await slack.post_message("ana", "general", "first question", mention_bot=True)
    await wait_stop_button(slack, "general", root)  # while it runs
    await wait_finished(slack, "general", root)
    (answer,) = bot_messages(slack, "general", root)
    assert answer.stream_state == "completed" and "new_session" in str(answer.blocks)
    assert stop_buttons(slack, "general", root) == []  # nothing live-looking is left
    await slack.post_message("ana", "general", "now the long run", thread_ts=root)
    stop = await wait_stop_button(slack, "general", root)
    await slack.press_button("ben", "general", stop, "stop_turn")
    await wait_for_text(slack, "general", root, "Stopped by <@")
    await wait_finished(slack, "general", root, count=2)
    assert stop_buttons(slack, "general", root) == []
    # Slack's own stop button shows only for agent sessions, which the bot does not create.
    with pytest.raises(LookupError):
        await slack.press_native_stop("ana", "general", root)


async def test_new_session_forgets_history_and_container(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Python("z = 1"), Say("Remembered.")], [Say("Fresh start.")]])
    await start_bot()
    root = await slack.post_message(
        "ana", "general", "remember z", mention_bot=True, files=[("f.csv", b"a\n1\n", "text/csv")]
    )
    await wait_finished(slack, "general", root)
    answer = bot_messages(slack, "general", root)[0]
    await slack.press_button("ana", "general", answer.ts, "new_session")
    await wait_for_text(slack, "general", root, "started a new session")
    await slack.wait_for(lambda: not claude.files, what="the thread's files deleted from Anthropic")
    await slack.post_message("ana", "general", "what was z?", thread_ts=root)
    await wait_for_text(slack, "general", root, "Fresh start.")
    last = sent(claude.requests[-1])
    assert container_of(last) is None
    assert len(last["messages"]) == 1 and "what was z?" in str(last["messages"][0])


async def test_slash_command_flows(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"2 + 2": [Say("It is 4.")]})
    bot = await start_bot()
    help_ack = await slack.run_slash_command("ana", "general", "/claude", "help")
    assert "/claude <question>" in str(help_ack)
    assert await slack.run_slash_command("ana", "general", "/claude", "what is 2 + 2?") == {}
    await slack.wait_for(lambda: any("asked" in m.text for m in slack.channel_view("general") if m.is_bot))
    root = next(m for m in slack.channel_view("general") if m.is_bot and "what is 2 + 2?" in m.text)
    assert slack.user_id("ana") in root.text
    await wait_for_text(slack, "general", root.ts, "It is 4.")
    await bot.wait_for_line("ended: answered")
    status = await slack.run_slash_command("ana", "general", "/claude", "status")
    assert "Last 24 hours" in str(status) and "1 turns" in str(status)
    # The bot is not in #random: the person is told how to fix it, privately.
    await slack.run_slash_command("ana", "random", "/claude", "hello?")
    await slack.wait_for(
        lambda: any("/invite" in str(r.body) for r in slack.responses), what="an invite hint"
    )


async def test_rate_limited_append_is_waited_out(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Say("First half, "), Delay(1.0), Say("second half.")]])
    slack.rate_limit_next("chat.appendStream", retry_after=1, times=1)
    await start_bot(stream_update_seconds="0.3")
    root = await slack.post_message("ana", "general", "go", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert [c.http_status for c in slack.calls if c.method == "chat.appendStream"][:2] == [429, 200]
    assert text.count("First half,") == 1 and text.count("second half.") == 1


async def test_missing_scope_is_named_in_the_thread(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    code = "import os\nopen(os.path.join(os.environ['OUTPUT_DIR'], 'out.txt'), 'w').write('hi')"
    claude.model = Script([[Python(code), Say("Wrote a file.")]])
    slack.set_scopes(slack.bot_token, [s for s in DEFAULT_BOT_SCOPES if s != "files:write"])
    await start_bot()
    root = await slack.post_message("ana", "general", "make a file", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "`files:write`" in text
    assert got(claude.requests[0])["stop_reason"] == "end_turn"


async def test_a_code_run_longer_than_a_stream_lives_goes_on_in_a_new_stream(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """Slack ends a stream some minutes after it started (3 s here): the answer goes on in a new
    stream before that (STREAM_MAX_SECONDS), so nothing is left half-streamed."""
    slack.stream_expiry_s = 3.0
    claude.model = Script(
        [[Say("Starting."), Python("import time\ntime.sleep(4)\nprint('ok')"), Say(" Done.")]]
    )
    await start_bot(stream_update_seconds="0.2", stream_max_seconds="1.5")
    root = await slack.post_message("ana", "general", "run it", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    messages = bot_messages(slack, "general", root)
    assert len(messages) >= 2 and all(m.stream_state == "completed" for m in messages)
    assert text.count("Starting.") == 1 and text.count("Done.") == 1
    assert any(card.status == "complete" for m in messages for card in m.tasks.values())
    assert not [c for c in slack.calls if c.error == "message_not_in_streaming_state"]
