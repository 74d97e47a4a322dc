"""Documents people send around (issue 16, part 3): Anthropic's skills make real files that are
posted in the thread, and the operator's own skills are uploaded once, pinned, reloaded into the
thread's sandbox, and listed by `/claude help`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from pptx import Presentation

from emulators.anthropic import AnthropicEmulator, Python, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, container_of, got, sent, wait_finished

# What Claude does with the pptx skill: read its instructions, then build the deck with python-pptx
# (preinstalled in the hosted sandbox) and save it in $OUTPUT_DIR. The emulator mounts skills at
# ../skills/<name>/ from the working directory (its README: no chroot for /skills).
MAKE_DECK = """\
import os
from pptx import Presentation
print(open("../skills/pptx/SKILL.md").read().splitlines()[1])
deck = Presentation()
slide = deck.slides.add_slide(deck.slide_layouts[1])
slide.shapes.title.text = "Sales grew 25%"
slide.placeholders[1].text = "Apples led, pears fell 12%."
deck.save(os.path.join(os.environ["OUTPUT_DIR"], "sales.pptx"))
"""


def skill_folder(skills_dir: Path, description: str = "Our brand colours and fonts.") -> Path:
    folder = skills_dir / "house-style"
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: house-style\ndescription: {description}\n---\n\nUse navy.\n"
    )
    (folder / "scripts" / "palette.py").write_text("NAVY = '#000080'\n")
    return folder


def container_skills(body: dict[str, Any]) -> list[dict[str, Any]]:
    container = body.get("container")
    return list(container["skills"]) if isinstance(container, dict) else []


async def test_a_pptx_skill_turn_posts_the_presentation(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = Script([[Python(MAKE_DECK), Say("Here is the deck: `sales.pptx`.")], [Say("Done.")]])
    await start_bot()
    root = await slack.post_message("ana", "general", "make this a PowerPoint", mention_bot=True)
    text = await wait_finished(slack, "general", root)
    assert "Here is the deck" in text
    posted = {f.name: f.data for m in bot_messages(slack, "general", root) for f in m.files}
    deck = Presentation(io.BytesIO(posted["sales.pptx"]))
    assert deck.slides[0].shapes.title.text == "Sales grew 25%"

    first = claude.requests[0]
    assert container_skills(sent(first)) == [
        {"type": "anthropic", "skill_id": s, "version": "latest"} for s in ("xlsx", "pptx", "docx", "pdf")
    ]
    assert first.headers["anthropic-beta"] == "code-execution-2025-08-25,skills-2025-10-02"
    assert "name: pptx" in got(first)["content"][1]["content"]["stdout"]
    assert "`/skills/<name>/`" in sent(first)["system"][0]["text"]
    # The thread's container is reused, with its skills, on the next turn.
    await slack.post_message("ana", "general", "thanks", thread_ts=root)
    await wait_finished(slack, "general", root, count=2)
    again = sent(claude.requests[-1])
    assert container_of(again) == got(first)["container"]["id"]
    assert container_skills(again) == container_skills(sent(first))


async def test_custom_skills_are_uploaded_once_pinned_and_listed(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    skills_dir = tmp_path / "skills"
    skill_folder(skills_dir)
    claude.model = Script([[Say("One.")], [Say("Two.")]])
    bot = await start_bot(skills_dir=str(skills_dir), anthropic_skills="xlsx")
    assert claude.skills.uploads == [["house-style/SKILL.md", "house-style/scripts/palette.py"]]
    (skill,) = claude.skills.custom.values()
    lock = json.loads((skills_dir / "skills.lock.json").read_text())["skills"]["house-style"]
    assert lock["skill_id"] == skill.id and lock["version"] == skill.latest().epoch

    help_ack = str(await slack.run_slash_command("ana", "general", "/claude", "help"))
    assert "`house-style` (Our brand colours and fonts.)" in help_ack and "`xlsx`" in help_ack
    root = await slack.post_message("ana", "general", "use our style", mention_bot=True)
    await wait_finished(slack, "general", root)
    assert container_skills(sent(claude.requests[0])) == [
        {"type": "anthropic", "skill_id": "xlsx", "version": "latest"},
        {"type": "custom", "skill_id": skill.id, "version": lock["version"]},
    ]
    await bot.stop()

    # Unchanged: not uploaded again. Changed: a new version, which requests then pin.
    bot = await start_bot(skills_dir=str(skills_dir), anthropic_skills="xlsx")
    assert len(claude.skills.uploads) == 1
    await bot.stop()
    skill_folder(skills_dir, description="Navy and Inter, always.")
    await start_bot(skills_dir=str(skills_dir), anthropic_skills="xlsx")
    assert len(claude.skills.uploads) == 2 and len(skill.versions) == 2
    newer = json.loads((skills_dir / "skills.lock.json").read_text())["skills"]["house-style"]
    assert newer["version"] == skill.latest().epoch != lock["version"]
    await slack.post_message("ana", "general", "and again", thread_ts=root)
    await wait_finished(slack, "general", root, count=2)
    assert container_skills(sent(claude.requests[-1]))[1]["version"] == newer["version"]


async def run_sync(claude: AnthropicEmulator, skills_dir: Path) -> tuple[int, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ANTHROPIC_API_KEY": claude.api_key,
        "ANTHROPIC_BASE_URL": claude.base_url,
        "SKILLS_DIR": str(skills_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "skills",
        "sync",
        env=env,
        cwd=skills_dir.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


async def test_skills_sync_command_uploads_what_changed(claude: AnthropicEmulator, tmp_path: Path) -> None:
    skills_dir = tmp_path / "skills"
    skill_folder(skills_dir)
    code, out = await run_sync(claude, skills_dir)
    (skill,) = claude.skills.custom.values()
    assert code == 0 and f"ok   house-style: uploaded, {skill.id} version {skill.latest().epoch}" in out
    code, out = await run_sync(claude, skills_dir)
    assert code == 0 and "ok   house-style: unchanged" in out and len(claude.skills.uploads) == 1
    (skills_dir / "house-style" / "SKILL.md").write_text("---\nname: house-style\ndescription: x\n---\n")
    (skills_dir / "broken").mkdir()
    code, out = await run_sync(claude, skills_dir)
    assert code == 2 and "broken has no SKILL.md" in out and len(claude.skills.uploads) == 1
