"""Operator skills: read from their folders, hashed, uploaded only when they change, pinned in the
lock file; a skill that cannot be uploaded keeps its pinned version."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.claude.errors import ClaudeError
from bot.claude.skills_api import Uploaded
from bot.model import SkillRef
from bot.skills import LOCK_NAME, SkillsError, all_skills, anthropic_skills, read_skill, sync


class FakeApi:
    def __init__(self, existing: dict[str, str] | None = None, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.existing = existing or {}
        self.fail = fail
        self.versions = 0

    async def create(self, files: Sequence[tuple[str, bytes]]) -> Uploaded:
        if self.fail:
            raise ClaudeError("Claude could not be reached.")
        self.calls.append(("create", files[0][0].split("/")[0]))
        self.versions += 1
        return Uploaded("skill_01new", f"v{self.versions}")

    async def add_version(self, skill_id: str, files: Sequence[tuple[str, bytes]]) -> Uploaded | None:
        if self.fail:
            raise ClaudeError("Claude could not be reached.")
        self.calls.append(("version", skill_id))
        self.versions += 1
        return Uploaded(skill_id, f"v{self.versions}")

    async def find(self, name: str) -> str | None:
        self.calls.append(("find", name))
        return self.existing.get(name)


def write_skill(root: Path, name: str = "house-style", body: str = "Use navy.") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: Colours.\n---\n{body}\n")
    (folder / ".DS_Store").write_bytes(b"junk")
    return folder


async def test_uploaded_once_then_versioned_on_change(tmp_path: Path) -> None:
    write_skill(tmp_path)
    api = FakeApi()
    first = await sync(api, tmp_path)  # type: ignore[arg-type]
    assert api.calls == [("find", "house-style"), ("create", "house-style")]
    assert first.skills == (SkillRef("custom", "skill_01new", "v1", "house-style", "Colours."),)
    again = await sync(api, tmp_path)  # type: ignore[arg-type]
    assert again.uploaded == () and len(api.calls) == 2 and again.skills == first.skills
    write_skill(tmp_path, body="Use teal.")
    changed = await sync(api, tmp_path)  # type: ignore[arg-type]
    assert api.calls[-1] == ("version", "skill_01new") and changed.skills[0].version == "v2"
    lock = json.loads((tmp_path / LOCK_NAME).read_text())["skills"]["house-style"]
    assert lock["version"] == "v2" and lock["skill_id"] == "skill_01new"


async def test_a_lost_lock_adopts_the_uploaded_skill(tmp_path: Path) -> None:
    write_skill(tmp_path)
    api = FakeApi(existing={"house-style": "skill_01old"})
    report = await sync(api, tmp_path)  # type: ignore[arg-type]
    assert api.calls == [("find", "house-style"), ("version", "skill_01old")]
    assert report.skills[0].skill_id == "skill_01old"


async def test_a_failed_upload_keeps_the_pinned_version(tmp_path: Path) -> None:
    write_skill(tmp_path)
    pinned = await sync(FakeApi(), tmp_path)  # type: ignore[arg-type]
    write_skill(tmp_path, body="changed")
    report = await sync(FakeApi(fail=True), tmp_path)  # type: ignore[arg-type]
    assert report.skills == pinned.skills
    assert report.problems and "house-style: not uploaded" in report.problems[0]


@pytest.mark.parametrize(
    ("skill_md", "error"),
    [
        (None, "no SKILL.md"),
        ("---\ndescription: x\n---\n", "no `name`"),
        ("---\nname: other\ndescription: x\n---\n", "must be named like its skill"),
    ],
)
def test_bad_folders_are_refused(tmp_path: Path, skill_md: str | None, error: str) -> None:
    folder = tmp_path / "house-style"
    folder.mkdir()
    if skill_md is not None:
        (folder / "SKILL.md").write_text(skill_md)
    with pytest.raises(SkillsError, match=error):
        read_skill(folder)


def test_the_hash_ignores_hidden_files_and_sees_content(tmp_path: Path) -> None:
    folder = write_skill(tmp_path)
    before = read_skill(folder)
    (folder / ".DS_Store").write_bytes(b"other junk")
    assert read_skill(folder).digest == before.digest
    assert [name for name, _ in before.files] == ["house-style/SKILL.md"]
    (folder / "SKILL.md").write_text((folder / "SKILL.md").read_text() + "more\n")
    assert read_skill(folder).digest != before.digest


def test_at_most_eight_skills() -> None:
    custom = tuple(SkillRef("custom", f"s{i}", "1", f"k{i}") for i in range(5))
    with pytest.raises(SkillsError, match="at most 8"):
        all_skills(anthropic_skills(["xlsx", "pptx", "docx", "pdf"]), custom)
    assert len(all_skills(anthropic_skills(["xlsx"]), custom)) == 6
