"""A busy channel: more people at once than Slack's limits let through at once (issue 15).

Slack's limits are enforced by the emulator (token buckets with its default bursts). What each person
should see: a sign of life at once, then their whole answer, in one message, split nowhere; and the
bot never makes Slack say 429 twice in a row for one method.
"""

from __future__ import annotations

from emulators.anthropic import AnthropicEmulator, ByText, Latency, ModelRequest, Say, Step
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, bot_text, wait_finished

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa"
ANSWER = " ".join([WORDS] * 4) + "."
SIGNS_OF_LIFE = ("assistant.threads.setStatus", "reactions.add")


async def test_in_a_busy_channel_everyone_sees_a_sign_of_life_then_a_whole_answer(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    def answer(_: ModelRequest) -> list[Step]:
        return [Say(ANSWER)]

    claude.model = answer
    claude.latency = Latency(first_token_s=0.5, tokens_per_s=400, delta_interval_s=0.05)
    slack.enforce_rate_tiers = True
    await start_bot()
    # 20 streams (Tier 2's burst) and 3 posts (the channel's burst) at once; the rest wait their turn.
    roots = [await slack.post_message("ana", "general", f"question {i}", mention_bot=True) for i in range(26)]
    for root in roots:
        await wait_finished(slack, "general", root, timeout=30)
    assert slack.rate_limited_calls == 0
    posted_whole = 0
    for root in roots:
        calls = [
            c
            for c in slack.calls
            if c.ok and (c.params.get("thread_ts") == root or c.params.get("timestamp") == root)
        ]
        assert calls[0].method in SIGNS_OF_LIFE, [c.method for c in calls]
        [message] = bot_messages(slack, "general", root)  # one message: split nowhere
        assert " ".join(bot_text(slack, "general", root).split()) == ANSWER
        edits = [c for c in slack.calls if c.method == "chat.update" and c.params.get("ts") == message.ts]
        posted_whole += message.stream_state is None and not edits
    assert posted_whole >= 1  # a thread that waited got its whole answer in one post


async def test_after_a_429_the_method_waits_exactly_retry_after(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"one": [Say("First answer.")], "two": [Say("Second answer.")]})
    slack.rate_limit_next("chat.startStream", retry_after=2)
    await start_bot()
    first = await slack.post_message("ana", "general", "one", mention_bot=True)
    await slack.wait_for(lambda: slack.rate_limited_calls == 1, what="the first stream refused")
    second = await slack.post_message("ben", "general", "two", mention_bot=True)
    assert "First answer." in await wait_finished(slack, "general", first)
    assert "Second answer." in await wait_finished(slack, "general", second)
    starts = slack.calls_to("chat.startStream")
    assert starts[0].http_status == 429
    # No stream starts until Slack's Retry-After is over (another thread's answer waits too, or posts);
    # then the refused call is made again at once.
    assert all(c.at >= starts[0].at + 2.0 for c in starts[1:])
    assert starts[1].at < starts[0].at + 3.0
    assert slack.rate_limited_calls == 1
