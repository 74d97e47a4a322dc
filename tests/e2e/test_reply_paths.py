"""The live reply's harder paths, driven directly against the Slack emulator.

A turn's answer is streamed, rolled over into a new message at Slack's size limit, or written as plain
messages when streaming is refused; the rate budget may have no room for an edit at the worst moment.
These paths are hard to reach through a whole bot process, so the reply is driven here with the real
Slack client and a rate budget set for each case; what is checked is what the person sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import StepFinished, StepStarted, StepStatus, TextDelta, ThreadKey, TurnEvent
from bot.slack.rate_limits import PER_MINUTE, RateBudget
from bot.slack.render import open_fence
from bot.slack.reply import ThreadReply
from emulators.slack import SlackEmulator
from tests.e2e.helpers import bot_messages, bot_text

SENTENCES = [f"Sentence number {i} of the answer, in plain text.\n\n" for i in range(400)]


@pytest.fixture
async def web(slack: SlackEmulator) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    yield client
    if client.session is not None:
        await client.session.close()


async def reply_in_thread(
    slack: SlackEmulator,
    web: AsyncWebClient,
    limits: dict[str, int] | None = None,
    spent: str | None = None,
    stream_max_seconds: float = 240.0,
) -> tuple[ThreadReply, str]:
    """A reply in a new thread; `spent`: a method whose budget other threads used up already."""
    root = await slack.post_message("ana", "general", "a question")
    budget = RateBudget({**PER_MINUTE, **(limits or {})})
    if spent is not None:
        while budget.try_take(spent):
            pass

    async def first_post() -> None:
        return None

    reply = ThreadReply(
        web,
        budget,
        ThreadKey(slack.team_id, slack.general, root),
        recipient_user_id=slack.user_id("ana"),
        update_seconds=0.05,
        on_first_post=first_post,
        stream_max_seconds=stream_max_seconds,
    )
    await reply.begin()
    return reply, root


async def say(reply: ThreadReply, *events: TurnEvent) -> None:
    await reply.handle(list(events))
    await asyncio.sleep(0.06)  # the scenario: the model's output arrives over time


async def stream(reply: ThreadReply, text: str, piece: int) -> None:
    for i in range(0, len(text), piece):
        await say(reply, TextDelta(text[i : i + piece]))


def assert_each_once(text: str, answer: str) -> None:
    for line in answer.split("\n\n"):
        if line:
            assert text.count(line) == 1, (line, text.count(line))


async def test_a_long_answer_rolls_over_at_a_paragraph_into_plain_messages(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    # Room for one stream only: the part after the first 11,000 characters goes on in plain messages.
    reply, root = await reply_in_thread(slack, web, {"chat.startStream": 1, "chat.stopStream": 1})
    answer = "".join(SENTENCES[:300])  # 14,700 characters
    await stream(reply, answer, 500)
    await reply.finish(closing=None, retry=False)
    first, *rest = bot_messages(slack, "general", root)
    assert first.stream_state == "completed" and rest
    assert first.text.rstrip().endswith("in plain text.")  # the stream ended at a paragraph
    assert_each_once(bot_text(slack, "general", root), answer)


async def test_plain_messages_without_room_for_edits_lose_nothing(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    reply, root = await reply_in_thread(slack, web, {"chat.update": 0})
    answer = "".join(SENTENCES[:280])
    await stream(reply, answer, 2_000)
    await reply.finish(closing=None, retry=False)
    # Without edits every piece is a message of its own (a sentence may straddle two), all in order.
    assert answer in "".join(m.text for m in bot_messages(slack, "general", root))


async def test_a_step_that_finishes_after_it_was_shown_is_not_repeated(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    reply, root = await reply_in_thread(slack, web, {"chat.update": 1})
    await say(reply, TextDelta("Let me compute the statistics of your file first."))
    await say(reply, StepStarted("s1", "python", "Run analysis", "print(1)"))
    await say(reply, StepFinished("s1", StepStatus.DONE, stdout="1\n"))
    await say(reply, TextDelta("The mean is 4.2."))
    await reply.finish(closing=None, retry=False)
    text = bot_text(slack, "general", root)
    assert text.count("Let me compute the statistics") == 1 and text.count("The mean is 4.2.") == 1
    assert "✅ **Run analysis**" in bot_messages(slack, "general", root)[-1].text


async def test_a_stream_that_fails_inside_a_code_block_goes_on_inside_it(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    reply, root = await reply_in_thread(slack, web)
    await say(reply, TextDelta("Here is the code:\n\n```python\n"))
    await say(reply, TextDelta("x = 1\n"))
    await slack.wait_for(lambda: "x = 1" in bot_text(slack, "general", root))
    slack.fail_next("chat.appendStream", error="message_not_in_streaming_state")
    for part in ("y = 2\n", "z = 3\n```\n\nDone, that is all."):
        await say(reply, TextDelta(part))
    await reply.finish(closing=None, retry=False)
    last = bot_messages(slack, "general", root)[-1].text
    assert "y = 2" in last and open_fence(last[: last.index("Done")]) is None  # "Done" is not code


async def test_the_end_never_waits_for_room_to_set_a_status(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    reply, root = await reply_in_thread(slack, web, spent="assistant.threads.setStatus")
    await say(reply, TextDelta("The answer is 42."))
    await asyncio.wait_for(reply.finish(closing=None, retry=False), 10)
    assert "The answer is 42." in bot_text(slack, "general", root)


async def test_a_step_cut_short_does_not_look_running(slack: SlackEmulator, web: AsyncWebClient) -> None:
    reply, root = await reply_in_thread(slack, web)
    await say(reply, StepStarted("s1", "python", "Long run", "import time; time.sleep(60)"))
    await reply.finish(closing="Stopped by <@U0123ABCD>.", retry=False)
    (card,) = bot_messages(slack, "general", root)[0].tasks.values()
    assert card.status == "error" and "did not finish" in card.output


async def test_text_an_edit_could_not_show_goes_into_a_new_message(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    reply, root = await reply_in_thread(slack, web)
    await say(reply, TextDelta("The first part is on screen."))
    await slack.wait_for(lambda: "first part" in bot_text(slack, "general", root))
    slack.fail_next("chat.update", error="cant_update_message", times=10)
    await say(reply, TextDelta(" The last part could not be edited in."))
    await reply.finish(closing=None, retry=False)
    text = bot_text(slack, "general", root)
    assert text.count("The first part is on screen.") == 1
    assert text.count("The last part could not be edited in.") == 1


async def test_an_answer_that_goes_on_in_a_new_message_breaks_between_words(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """The issue's `... mike nov` | `ember oscar ...`: the live post holds back the end of a word."""
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    reply, root = await reply_in_thread(slack, web)
    await say(reply, TextDelta("lima mike nov"))
    await slack.wait_for(lambda: "mike" in bot_text(slack, "general", root))
    slack.fail_next("chat.update", error="cant_update_message", times=10)
    await say(reply, TextDelta("ember oscar papa"))
    await reply.finish(closing=None, retry=False)
    first, second = (m.text for m in bot_messages(slack, "general", root))
    assert first.rstrip() == "lima mike" and second.lstrip() == "november oscar papa"


async def test_a_step_change_with_an_overflow_and_no_room_to_edit_loses_nothing(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    reply, root = await reply_in_thread(slack, web, {"chat.update": 0})
    await say(
        reply, TextDelta("Let me load your file."), StepStarted("s1", "python", "Run analysis", "print(1)")
    )
    await slack.wait_for(lambda: "Run analysis" in bot_text(slack, "general", root))
    # At once: the step that is on screen finishes, and more text than one message holds arrives.
    answer = "".join(SENTENCES[:280])
    await say(reply, StepFinished("s1", StepStatus.DONE, stdout="1\n"), TextDelta(answer))
    await reply.finish(closing=None, retry=False)
    messages = bot_messages(slack, "general", root)
    assert_each_once("".join(m.text for m in messages), answer)
    assert any("✅ **Run analysis**" in m.text for m in messages[1:])


async def test_a_stream_full_of_task_cards_rolls_over_before_slack_refuses_it(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """Task cards count toward a streamed message's size, `details` and `output` twice: a long run of
    code steps with text between them goes on in new messages instead of ending in msg_too_long."""
    reply, root = await reply_in_thread(slack, web)
    code = "".join(f"result_{i} = compute_step({i}, data)\n" for i in range(60))  # ~2,100 bytes
    for n in range(6):
        await say(reply, TextDelta(f"Step {n}: computing the next part of the analysis.\n\n"))
        await say(reply, StepStarted(f"s{n}", "python", f"Part {n}", code))
        out = "".join(f"row {i}: {'é' * 20}\n" for i in range(19))  # two bytes a character
        await say(reply, StepFinished(f"s{n}", StepStatus.DONE, stdout=out))
    await say(reply, TextDelta("All parts are done."))
    await reply.finish(closing=None, retry=False)
    assert not [c for c in slack.calls if c.error == "msg_too_long"]
    messages = bot_messages(slack, "general", root)
    assert len(messages) > 1 and all(m.stream_state == "completed" for m in messages)
    text = bot_text(slack, "general", root)
    for n in range(6):
        assert text.count(f"Step {n}: computing") == 1
        assert any(m.tasks.get(f"s{n}") and m.tasks[f"s{n}"].status == "complete" for m in messages)
    assert messages[-1].text.rstrip().endswith("All parts are done.")


async def test_a_stream_hands_over_to_a_new_one_before_slack_ends_it(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """Slack ends a stream about five minutes after it started, appends or not. A long code run
    goes on in a new stream before that: the step shows as still running there, a code block open
    at the hand-over is closed and opened again, and nothing is lost or repeated."""
    slack.stream_expiry_s = 3.0
    reply, root = await reply_in_thread(slack, web, stream_max_seconds=1.5)
    await say(reply, TextDelta("Here is the code:\n\n```python\nx = 1\n"))
    await say(reply, StepStarted("s1", "python", "Long run", "import time; time.sleep(4)"))
    await asyncio.sleep(4.0)  # the scenario: a code run longer than a stream lives
    await say(reply, StepFinished("s1", StepStatus.DONE, stdout="ok\n"))
    await say(reply, TextDelta("y = 2\n```\n\nDone, that is all."))
    await reply.finish(closing=None, retry=False)
    messages = bot_messages(slack, "general", root)
    assert [m.stream_state for m in messages] == ["completed"] * len(messages) and len(messages) >= 3
    assert not [c for c in slack.calls if c.error == "message_not_in_streaming_state"]
    for m in messages:
        assert open_fence(m.text) is None, m.text
    text = bot_text(slack, "general", root)
    assert text.count("Here is the code:") == 1 and text.count("x = 1") == 1 and text.count("y = 2") == 1
    assert messages[-1].tasks["s1"].status == "complete"
    assert "continued" in messages[0].tasks["s1"].output  # the card it left says where it went on
