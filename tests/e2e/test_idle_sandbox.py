"""A thread left idle: the sandbox is checkpointed and restored, its files kept, its memory maybe not."""

from __future__ import annotations

from emulators.anthropic import AnthropicEmulator, ModelRequest, Python, Say, Step, StepContext
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import container_of, sent, wait_finished

SALES = b"month,product,revenue\n2026-01,apples,120\n2026-01,pears,80\n2026-02,apples,150\n"
LOAD = "import os\nimport pandas as pd\ndf = pd.read_csv(os.path.join(os.environ['INPUT_DIR'], 'sales.csv'))"
NOTE = "My Python session was reset while the thread was idle; reloading sales.csv."
CHECKED = f"""
if "df" not in globals():
    await post_update({{"text": "{NOTE}"}})
    {LOAD.replace(chr(10), chr(10) + "    ")}
print(df.revenue.sum())
"""


def analyst(request: ModelRequest) -> list[Step]:
    """A model that does what its system prompt says: it checks its variables before using them only
    when it is told they may be gone (and otherwise trusts them, as the old prompt promised)."""
    if request.user_turns == 1:
        return [Python(LOAD), Say("Loaded the sales.")]
    told_to_check = "'df' in globals()" in request.system_text
    return [Python(CHECKED if told_to_check else "print(df.revenue.sum())"), Say(total)]


def total(ctx: StepContext) -> str:
    out = ctx.last_output
    return f"Total revenue: {out.stdout.strip()}." if out and out.return_code == 0 else "I lost the data."


async def test_a_thread_idle_past_the_checkpoint_rebuilds_and_says_so(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = analyst
    await start_bot()
    root = await slack.post_message(
        "ana", "general", "load the sales", mention_bot=True, files=[("sales.csv", SALES, "text/csv")]
    )
    await wait_finished(slack, "general", root)
    assert claude.checkpoint_idle_s is not None
    claude.advance_clock(claude.checkpoint_idle_s + 60)  # six minutes without a word
    await slack.post_message("ana", "general", "what is the total revenue?", thread_ts=root)
    text = await wait_finished(slack, "general", root, count=2)
    assert "Total revenue: 350." in text and NOTE in text  # one line in the thread says the memory was gone
    container = container_of(sent(claude.requests[-1]))
    assert container is not None
    assert claude.containers[container].restores == 1  # same container, restored: files kept
    system = " ".join(b["text"] for b in sent(claude.requests[-1])["system"])
    assert "'df' in globals()" in " ".join(system.split())
