"""Threads as persistent REPL sessions: the conversation engine, end to end."""

from __future__ import annotations

import itertools
import json

from emulators.anthropic import (
    AnthropicEmulator,
    ByText,
    CallTool,
    Delay,
    ModelRequest,
    PauseTurn,
    Python,
    RequestRecord,
    Say,
    Script,
    Step,
    StepContext,
)
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, bot_text, container_of, got, sent, wait_finished, wait_for_text


def said_output(ctx: StepContext) -> str:
    out = ctx.last_output
    return f"The result is {out.stdout.strip()}." if out else "no output"


async def test_repl_state_persists_across_turns(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [
            [Python("x = 41"), Say("I set x.")],
            [Python("print(x + 1)"), Say(said_output)],
        ]
    )
    await start_bot()
    root = await slack.post_message("ana", "general", "set x to 41", mention_bot=True)
    await wait_finished(slack, "general", root)
    # A plain reply, no mention: the thread's conversation continues.
    await slack.post_message("ben", "general", "now print x + 1", thread_ts=root)
    text = await wait_for_text(slack, "general", root, "The result is 42.")
    assert "I set x." in text
    first, second = claude.requests[0], claude.requests[-1]
    assert container_of(sent(second)) == got(first)["container"]["id"]
    # The second request carries the first turn's full content, code execution blocks included.
    assert any(
        b.get("type") == "code_execution_tool_result" for m in sent(second)["messages"] for b in m["content"]
    )


async def test_restart_keeps_container_and_history(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [[Python("data = [1, 2, 3]"), Say("Loaded.")], [Python("print(sum(data))"), Say(said_output)]]
    )
    # A killed process cannot release its leases: with a short lease the restarted bot takes over fast.
    bot = await start_bot(lease_seconds="3")
    root = await slack.post_message("ana", "general", "load the data", mention_bot=True)
    await wait_finished(slack, "general", root)
    await bot.kill()
    await start_bot(lease_seconds="3")
    await slack.post_message("ana", "general", "what is the sum?", thread_ts=root)
    await wait_for_text(slack, "general", root, "The result is 6.")
    assert container_of(sent(claude.requests[-1])) == got(claude.requests[0])["container"]["id"]
    texts = [b.get("text", "") for m in sent(claude.requests[-1])["messages"] for b in m["content"]]
    assert any("load the data" in t for t in texts)


async def test_pause_turn_programmatic_and_direct_tool_calls(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    cell = "import json\nmsgs = json.loads(await thread_history({}))\nprint(len(msgs), msgs[0]['text'])"
    claude.model = Script(
        [
            [
                Say("Let me look at the thread."),
                Python(cell),
                PauseTurn(),
                CallTool("post_update", {"text": "Halfway there"}),
                Say(
                    lambda ctx: (
                        f"Thread check: {ctx.outputs[0].stdout.strip()}. Tool said: {ctx.tool_results[-1]}"
                    )
                ),
            ]
        ]
    )
    await start_bot()
    root = await slack.post_message("ana", "general", "how many messages are here?", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    # The thread holds the question and the answer being streamed.
    assert "Thread check: 2 how many messages are here?" in text
    assert "Halfway there" in text and "Tool said: Posted." in text
    stops = [got(r)["stop_reason"] for r in claude.requests]
    assert stops == ["tool_use", "pause_turn", "tool_use", "end_turn"]
    containers = {container_of(sent(r)) for r in claude.requests[1:]}
    assert containers == {got(claude.requests[0])["container"]["id"]}
    ptc_result = sent(claude.requests[1])["messages"][-1]
    assert [b["type"] for b in ptc_result["content"]] == ["tool_result"]


async def test_a_tool_call_without_arguments_goes_back_with_an_empty_input(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """Tool blocks that start without `input` (the docs' streaming example) and a call with no
    arguments (no input fragments): the paused turn goes back to the API with `input: {}`, which it
    requires, so the cell gets its result and the answer comes."""
    claude.tool_start_input = False
    cell = "import json\nmsgs = json.loads(await thread_history({}))\nprint(len(msgs))"
    claude.model = Script([[Python(cell), Say(said_output)]])
    await start_bot()
    root = await slack.post_message("ana", "general", "how many messages?", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "The result is 2." in text
    assert [r.status for r in claude.requests] == [200, 200]
    paused = sent(claude.requests[1])["messages"][-2]["content"]
    assert [b["input"] for b in paused if b["type"] in ("tool_use", "server_tool_use")] == [
        {"code": cell},
        {},
    ]


async def test_expired_container_is_replaced_once_with_a_notice(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Python("y = 1"), Say("First.")], [Python("print('fresh')"), Say("Second.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "start", mention_bot=True)
    await wait_finished(slack, "general", root)
    old = got(claude.requests[0])["container"]["id"]
    claude.expire_container(old)
    await slack.post_message("ana", "general", "again", thread_ts=root)
    text = await wait_for_text(slack, "general", root, "Second.")
    assert "sandbox had expired" in text
    last = claude.requests[-1]
    assert container_of(sent(last)) is None
    assert "sandbox was replaced" in json.dumps(sent(last)["messages"][-1])
    assert got(last)["container"]["id"] != old


async def test_one_turn_at_a_time_per_thread_and_threads_in_parallel(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText(
        {
            "first": [Delay(1.0), Say("Answer one.")],
            "second": [Say("Answer two.")],
            "thread": [Delay(1.0), Say("Parallel answer.")],
        }
    )
    await start_bot()
    root = await slack.post_message("ana", "general", "first question", mention_bot=True)
    # The first turn is under way (its status shows) when the second message arrives.
    await slack.wait_for(lambda: slack.current_status("general", root), what="the first turn's status")
    await slack.post_message("ana", "general", "second question", thread_ts=root)
    other = await slack.post_message("ben", "general", "another thread please", mention_bot=True)
    await wait_for_text(slack, "general", root, "Answer two.")
    await wait_for_text(slack, "general", other, "Parallel answer.")

    def request_for(word: str) -> RequestRecord:
        return next(r for r in claude.requests if word in json.dumps(sent(r)["messages"][-1]))

    first, second, parallel = request_for("first"), request_for("second"), request_for("another")
    assert "second" not in json.dumps(sent(first)["messages"][-1])  # a turn of its own, after the first
    assert first.done_at is not None and second.received_at >= first.done_at
    assert parallel.received_at < first.done_at  # the other thread did not wait
    text = bot_text(slack, "general", root)
    assert text.index("Answer one.") < text.index("Answer two.")


async def test_bots_edits_dms_and_earlier_thread_context(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText(
        {"dm": [Say("DM answer.")], "summarise": [Say("Context answer.")]}, default=[Say("Other.")]
    )
    await start_bot()
    # People talk first; then someone mentions the bot inside that thread.
    root = await slack.post_message("ana", "general", "Revenue dipped in March, any idea why?")
    await slack.post_message("ben", "general", "Probably the Easter holidays.", thread_ts=root)
    await slack.post_message("ana", "general", "summarise this thread", thread_ts=root, mention_bot=True)
    await wait_for_text(slack, "general", root, "Context answer.")
    context = json.dumps(sent(claude.requests[-1])["messages"][-1])
    assert "Revenue dipped in March" in context and "Probably the Easter holidays." in context
    # Another bot replying in the thread never starts a turn; neither do edits.
    before = len(claude.requests)
    await slack.post_message(slack.other_bot_user_id, "general", "bot chatter", thread_ts=root, as_bot=True)
    await slack.edit_message("ana", "general", root, "Revenue dipped in March (edited)")
    # A DM is its own conversation.
    dm = slack.dm_channel("ana")
    dm_ts = await slack.post_message("ana", dm, "a dm question")
    await wait_for_text(slack, dm, dm_ts, "DM answer.")
    # Every event was acknowledged, so the bot has decided about each (it acks once it has).
    await slack.wait_for(lambda: all(e.acked for e in slack.envelopes), what="every event acknowledged")
    assert len(claude.requests) == before + 1
    assert "bot chatter" not in json.dumps([sent(r) for r in claude.requests])


async def test_overload_is_retried_and_a_permanent_failure_loses_nothing(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"flaky": [Say("Survived the overload.")], "doomed": [Say("Finally answered.")]})
    await start_bot(anthropic_max_retries="2")
    claude.fail_next(status=529, times=2)
    root = await slack.post_message("ana", "general", "flaky question", mention_bot=True)
    await wait_for_text(slack, "general", root, "Survived the overload.")
    claude.fail_next(status=529, times=3)
    lost = await slack.post_message("ana", "general", "doomed question", mention_bot=True)
    await wait_for_text(slack, "general", lost, "Claude is overloaded")
    await slack.wait_for(
        lambda: any("retry_turn" in str(m.blocks) for m in slack.thread_view("general", lost))
    )
    message = next(m for m in slack.thread_view("general", lost) if "retry_turn" in str(m.blocks))
    await slack.press_button("ana", "general", message.ts, "retry_turn")
    await wait_for_text(slack, "general", lost, "Finally answered.")
    assert "doomed question" in json.dumps(sent(claude.requests[-1])["messages"][-1])


async def test_a_failure_after_part_of_the_turn_was_kept_offers_no_retry(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """Once a turn's first response is in the thread's history, Retry would send the question a
    second time: the failure is reported, the message is not put back, the thread goes on."""

    def half_way(request: ModelRequest) -> list[Step]:
        claude.fail_next(status=529, times=3)  # every attempt at the request after this one
        return [Say("Loading the data."), CallTool("post_update", {"text": "half way there"}), Say("Done.")]

    claude.model = ByText({"big job": half_way, "next": [Say("Next answered.")]})
    await start_bot(anthropic_max_retries="2")
    root = await slack.post_message("ana", "general", "a big job", mention_bot=True)
    await wait_for_text(slack, "general", root, "Claude is overloaded")
    await wait_finished(slack, "general", root)
    assert "half way there" in bot_text(slack, "general", root)
    assert not any("retry_turn" in str(m.blocks) for m in slack.thread_view("general", root))
    await slack.post_message("ana", "general", "next question", thread_ts=root)
    await wait_for_text(slack, "general", root, "Next answered.")
    history = json.dumps(sent(claude.requests[-1])["messages"])
    assert history.count("a big job") == 1 and "Loading the data." in history


async def test_a_very_large_code_output_is_read(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """A sandbox result arrives as one SSE line: 1 MB of printout must not break the stream."""
    claude.model = Script([[Python("print('x' * 1_000_000)"), Say("Printed a million.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "print a lot", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "Printed a million." in text and "went wrong" not in text


async def test_a_continuation_after_many_code_runs_reads_the_previous_request_from_cache(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """One response with a dozen code runs adds over 20 blocks, more than the cache looks back from a
    breakpoint: the request after it must still read everything the previous one wrote."""
    claude.server_steps_per_response = 50  # all twelve runs in one response, then the tool call
    runs = [Python(f"value_{i} = {i} * 2\nprint(value_{i})") for i in range(12)]
    claude.model = Script([[*runs, CallTool("post_update", {"text": "twelve done"}), Say("All done.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "run twelve cells", mention_bot=True)
    await wait_finished(slack, "general", root)
    answered = [r for r in claude.requests if r.response]
    assert len(answered) >= 2  # the response was continued (pause_turn, then the tool call)
    for before, after in itertools.pairwise(answered):
        cached = sum(
            got(before)["usage"][k] for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
        )
        usage = got(after)["usage"]
        assert usage["cache_read_input_tokens"] >= cached > 0, [got(r)["usage"] for r in answered]


async def test_a_reply_ten_minutes_later_reads_the_thread_from_the_prompt_cache(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """People answer in Slack minutes or hours later: the history written by one turn must still be in
    the cache ten minutes on, so the next turn reads it instead of paying to write it again."""
    claude.model = Script([[Say("First answer. " + "details " * 300)], [Say("Second answer.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "first question " + "context " * 200, mention_bot=True)
    await wait_finished(slack, "general", root)
    first = got(claude.requests[0])["usage"]
    claude.advance_clock(600)
    await slack.post_message("ana", "general", "and then?", thread_ts=root)
    await wait_for_text(slack, "general", root, "Second answer.")
    second = got(claude.requests[-1])["usage"]
    written = first["cache_read_input_tokens"] + first["cache_creation_input_tokens"]
    assert written > 1024 and second["cache_read_input_tokens"] >= written, (first, second)
    assert second["cache_creation"]["ephemeral_5m_input_tokens"] == 0


async def test_an_answer_streams_to_a_slack_connect_user(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """Someone from a partner organisation the operator lets in, in a channel shared over Slack
    Connect: the answer streams to them, addressed to their own team (Slack refuses the workspace's
    team for them)."""
    guest = slack.add_user("gus", "Gus from Partner", team_id="T0PARTNER")
    claude.model = Script([[Say("Hello from the sandbox.")]])
    await start_bot(allowed_teams="T0PARTNER")
    root = await slack.post_message(guest, "general", "hi there", mention_bot=True)
    await wait_finished(slack, "general", root)
    (answer,) = bot_messages(slack, "general", root)
    assert answer.stream_state == "completed" and "Hello from the sandbox." in answer.text
    (start,) = slack.calls_to("chat.startStream")
    assert start.ok and start.params["recipient_team_id"] == "T0PARTNER"
