"""Files in (Slack -> sandbox) and out (sandbox -> Slack), end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emulators.anthropic import AnthropicEmulator, Bash, ByText, Python, Say, Script, StepContext
from emulators.slack import DEFAULT_BOT_SCOPES, SlackEmulator
from emulators.slack.events import MentionTwins
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, got, sent, wait_finished, wait_for_text

SALES = b"month,product,revenue\n2026-01,apples,120\n2026-01,pears,80\n2026-02,apples,150\n2026-02,pears,70\n"

CHART = """
import os
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
df = pd.read_csv(os.path.join(os.environ["INPUT_DIR"], "sales.csv"))
growth = df.pivot(index="month", columns="product", values="revenue")
growth.plot(kind="bar")
plt.savefig(os.path.join(os.environ["OUTPUT_DIR"], "growth.png"))
print(growth.pct_change().iloc[-1].idxmax())
"""


def uploads(claude: AnthropicEmulator) -> list[str]:
    return sorted(f.filename for f in claude.files.values() if not f.downloadable)


def sandbox_listing(ctx: StepContext) -> str:
    out = ctx.last_output
    return "Sandbox has: " + (" ".join(out.stdout.split()) if out else "nothing")


async def test_csv_in_chart_out(slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot) -> None:
    claude.model = Script(
        [
            [
                Python(CHART),
                Say(lambda ctx: f"Fastest growth: {ctx.outputs[0].stdout.strip()}. Chart attached."),
            ]
        ]
    )
    await start_bot()
    root = await slack.post_message(
        "ana",
        "general",
        "which product grew fastest?",
        mention_bot=True,
        files=[("sales.csv", SALES, "text/csv")],
    )
    text = await wait_finished(slack, "general", root)
    assert "Fastest growth: apples." in text
    first = sent(claude.requests[0])
    assert any(b.get("type") == "container_upload" for b in first["messages"][-1]["content"])
    chart_id = next(
        item["file_id"]
        for block in got(claude.requests[0])["content"]
        if block["type"] == "code_execution_tool_result"
        for item in block["content"]["content"]
    )
    produced = claude.files[chart_id].path.read_bytes()
    images = [f for m in bot_messages(slack, "general", root) for f in m.files if f.name == "growth.png"]
    assert len(images) == 1 and images[0].is_image
    assert images[0].data == produced and produced.startswith(b"\x89PNG")


async def test_all_files_taken_in_once(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [[Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)], [Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)]]
    )
    await start_bot()
    root = await slack.post_message(
        "ana",
        "general",
        "two files",
        mention_bot=True,
        files=[("a.csv", b"x\n1\n", "text/csv"), ("b.json", b'{"k": 1}', "application/json")],
    )
    await wait_for_text(slack, "general", root, "Sandbox has: a.csv b.json")
    await slack.post_message(
        "ben", "general", "one more", thread_ts=root, files=[("c.txt", b"hello", "text/plain")]
    )
    await wait_for_text(slack, "general", root, "Sandbox has: a.csv b.json c.txt")
    assert uploads(claude) == ["a.csv", "b.json", "c.txt"]  # nothing uploaded twice
    last_user = sent(claude.requests[-1])["messages"][-1]
    assert [b["type"] for b in last_user["content"]].count("container_upload") == 1


async def test_download_problems_are_explained(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = ByText({"": [Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)]})
    await start_bot(max_file_mb="0.01")
    # Over the per-file limit (10 KB here) and empty files are left out, with a line naming each.
    root = await slack.post_message(
        "ana",
        "general",
        "limits",
        mention_bot=True,
        files=[
            ("big.csv", b"x" * 20_000, "text/csv"),
            ("empty.csv", b"", "text/csv"),
            ("ok.csv", b"a\n1\n", "text/csv"),
        ],
    )
    text = await wait_finished(slack, "general", root)
    assert "Sandbox has: ok.csv" in text
    assert "`big.csv`" in text and "10.2 KB limit" in text
    assert "`empty.csv` is empty" in text
    # Redirects: to another Slack host the token goes along.
    slack.file_redirect = "slack_host"
    ts = await slack.post_message(
        "ana", "general", "hop", mention_bot=True, files=[("slack_host.csv", b"r\n1\n", "text/csv")]
    )
    await wait_for_text(slack, "general", ts, "Sandbox has: slack_host.csv")
    # A host that is not Slack's (and not allowed by SLACK_FILE_HOSTS) is never contacted at all.
    slack.file_redirect = "foreign_host"
    ts = await slack.post_message(
        "ana", "general", "cdn", mention_bot=True, files=[("foreign.csv", b"r\n1\n", "text/csv")]
    )
    text = await wait_finished(slack, "general", ts)
    assert "I didn't download `foreign.csv`: its host localhost is not one of Slack's" in text
    assert "SLACK_FILE_HOSTS" in text
    assert slack.foreign_host_auth_headers == []
    slack.file_redirect = None
    # Slack Connect stubs are resolved with files.info.
    ts = await slack.post_message(
        "ana",
        "general",
        "stub",
        mention_bot=True,
        files=[("shared.csv", b"s\n1\n", "text/csv")],
        connect_stubs=True,
    )
    await wait_for_text(slack, "general", ts, "Sandbox has: shared.csv")
    assert slack.calls_to("files.info")
    # Without files:read Slack serves its sign-in page: the thread says exactly what is missing.
    slack.set_scopes(slack.bot_token, [s for s in DEFAULT_BOT_SCOPES if s != "files:read"])
    ts = await slack.post_message(
        "ana", "general", "no scope", mention_bot=True, files=[("secret.csv", b"s\n1\n", "text/csv")]
    )
    text = await wait_finished(slack, "general", ts)
    assert "sign-in page" in text and "`files:read`" in text
    assert "secret.csv" not in uploads(claude)


async def test_transfers_that_break_off_are_reported_and_never_truncated(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    made = "open(os.path.join(os.environ['OUTPUT_DIR'], 'report.txt'), 'w').write('r' * 50_000)"
    claude.model = ByText(
        {
            "attached": [Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)],
            "report": [Python("import os\n" + made), Say("Report written.")],
        }
    )
    await start_bot()
    # Slack's connection drops a third of the way into the attachment.
    slack.cut_next_download(after_bytes=1_000_000)
    root = await slack.post_message(
        "ana",
        "general",
        "see attached",
        mention_bot=True,
        files=[("broken.csv", b"b,c\n" * 750_000, "text/csv")],
    )
    text = await wait_finished(slack, "general", root)
    assert "couldn't download `broken.csv` from Slack" in text and "Attach it again" in text
    assert "broken.csv" not in uploads(claude)  # no partial copy in the sandbox
    assert "Sandbox has: " in text
    # The Files API's connection drops while the bot fetches a file the code made.
    claude.cut_next_file_download(after_bytes=1_000)
    ts = await slack.post_message("ana", "general", "write the report", mention_bot=True)
    text = await wait_finished(slack, "general", ts)
    assert "Report written." in text and "could not be fetched" in text
    assert not [f for m in bot_messages(slack, "general", ts) for f in m.files]


async def test_container_reset_reattaches_the_threads_files(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script(
        [[Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)], [Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)]]
    )
    await start_bot()
    root = await slack.post_message(
        "ana", "general", "keep this", mention_bot=True, files=[("keep.csv", b"k\n1\n", "text/csv")]
    )
    await wait_for_text(slack, "general", root, "Sandbox has: keep.csv")
    claude.expire_container(got(claude.requests[0])["container"]["id"])
    await slack.post_message("ana", "general", "still there?", thread_ts=root)
    await wait_for_text(slack, "general", root, "sandbox had expired")
    await wait_finished(slack, "general", root, count=2)
    assert bot_messages(slack, "general", root)[-1].text.count("Sandbox has: keep.csv") == 1
    assert uploads(claude) == ["keep.csv"]
    assert "container_upload" in json.dumps(sent(claude.requests[-1])["messages"][-1])


async def test_a_200_mb_attachment_streams_through(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        block = os.urandom(1 << 20)
        for _ in range(200):
            handle.write(block)
    claude.model = Script(
        [[Bash('stat -c %s "$INPUT_DIR/big.bin"'), Say(lambda ctx: f"Size: {ctx.outputs[0].stdout.strip()}")]]
    )
    bot = await start_bot()
    before = bot.memory_kb()["VmRSS"]
    root = await slack.post_message(
        "ana", "general", "big one", mention_bot=True, files=[("big.bin", big, "application/octet-stream")]
    )
    await wait_for_text(slack, "general", root, f"Size: {200 << 20}", timeout=120)
    peak = bot.memory_kb()["VmHWM"]
    growth_mb = (peak - before) / 1024
    print(
        f"200 MB attachment: bot RSS before {before / 1024:.1f} MB, peak {peak / 1024:.1f} MB, growth {growth_mb:.1f} MB"
    )
    assert growth_mb < 64


OUTPUTS = """
import os
out = os.environ["OUTPUT_DIR"]
open(os.path.join(out, "empty.csv"), "w").close()
open(os.path.join(out, "\\U0001F4CA" * 63 + ".md"), "w").write("emoji name\\n")
open(os.path.join(out, "invoice\\u202efdp.exe"), "w").write("not what it seems\\n")
open(os.path.join(out, "table.csv"), "w").write("a,b\\n1,2\\n")
"""


async def test_output_files_with_awkward_names_or_no_bytes(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    """An empty file, a name of 63 emoji (255 bytes, the most a file system takes) and one hiding a
    right-to-left override: the others are still posted, under names Slack takes and people can
    trust, and the empty one is named."""
    claude.model = Script([[Python(OUTPUTS), Say("Here are the files.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "make some files", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    posted = {f.name: f.data for m in bot_messages(slack, "general", root) for f in m.files}
    emoji = next(name for name in posted if name.startswith("\U0001f4ca"))
    assert len(emoji.encode()) <= 255 and emoji.endswith(".md") and posted[emoji] == b"emoji name\n"
    assert posted["invoicefdp.exe"] == b"not what it seems\n"  # no U+202E: the name reads as it is
    assert posted["table.csv"] == b"a,b\n1,2\n"
    assert "empty.csv" not in posted and "`empty.csv` is empty" in text


@pytest.mark.parametrize(
    "twins", ["sparse_mention_first", "sparse_mention_last", "message_only", "message_first"]
)
async def test_a_mention_with_a_file_is_answered_once_with_its_file(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, twins: MentionTwins
) -> None:
    """However Slack delivers the two events of a mention (an app_mention without the files its
    message twin carries, either first; no app_mention at all; the message first), the question is
    answered once, with its attachment in the sandbox."""
    claude.model = Script([[Bash('ls "$INPUT_DIR"'), Say(sandbox_listing)]])
    await start_bot()
    root = await slack.post_message(
        "ana",
        "general",
        "what is in this file?",
        mention_bot=True,
        files=[("sales.csv", SALES, "text/csv")],
        mention_twins=twins,
    )
    text = await wait_finished(slack, "general", root)
    assert "Sandbox has: sales.csv" in text
    assert len(claude.requests) == 1 and uploads(claude) == ["sales.csv"]
    await slack.wait_for(lambda: all(e.acked for e in slack.envelopes), what="every event acknowledged")
    assert sum("new_session" in str(m.blocks) for m in bot_messages(slack, "general", root)) == 1
