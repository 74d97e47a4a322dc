"""Agent Skills through the real SDK: uploading a skill folder and new versions (multipart
`files[]`), loading skills into a container with the documented beta headers, and the skill's files
in the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.lib import files_from_dir

from emulators.anthropic import AnthropicEmulator, Bash, Say, Script
from emulators.anthropic.testing import MODEL, client

BETAS: Any = ["code-execution-2025-08-25", "skills-2025-10-02"]
CODE: Any = {"type": "code_execution_20250825", "name": "code_execution"}


def skill_folder(tmp_path: Path, name: str = "house-style", body: str = "Use our colours.") -> Path:
    folder = tmp_path / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: The house style.\n---\n\n{body}\n")
    (folder / "scripts" / "palette.py").write_text("COLOURS = ['#123456']\n")
    return folder


async def test_a_skill_folder_uploads_and_versions(emu: AnthropicEmulator, tmp_path: Path) -> None:
    folder = skill_folder(tmp_path)
    async with client(emu, _strict_response_validation=True) as c:
        skill = await c.beta.skills.create(files=files_from_dir(folder), betas=BETAS)
        assert skill.display_name == "house-style" and skill.source.type == "custom"
        (folder / "SKILL.md").write_text("---\nname: house-style\ndescription: Newer.\n---\n\nv2\n")
        version = await c.beta.skills.versions.create(skill.id, files=files_from_dir(folder), betas=BETAS)
        assert version.skill_id == skill.id and version.description == "Newer." and version.id.isdigit()
        listed = [s.id async for s in c.beta.skills.list(betas=BETAS)]
        assert listed == [skill.id]
        versions = [v.id async for v in c.beta.skills.versions.list(skill.id, betas=BETAS)]
        assert versions[0] == version.id and len(versions) == 2
        with pytest.raises(anthropic.BadRequestError, match="versions"):
            await c.beta.skills.delete(skill.id, betas=BETAS)
    assert sorted(emu.skills.uploads[0]) == ["house-style/SKILL.md", "house-style/scripts/palette.py"]


async def test_uploads_are_checked_as_the_guide_says(emu: AnthropicEmulator, tmp_path: Path) -> None:
    bad_name = skill_folder(tmp_path, "claude-helper")
    mismatch = skill_folder(tmp_path / "x", "house-style")
    (mismatch / "SKILL.md").write_text("---\nname: other-name\ndescription: d\n---\n")
    async with client(emu) as c:
        with pytest.raises(anthropic.BadRequestError, match="reserved"):
            await c.beta.skills.create(files=files_from_dir(bad_name), betas=BETAS)
        with pytest.raises(anthropic.BadRequestError, match="must match"):
            await c.beta.skills.create(files=files_from_dir(mismatch), betas=BETAS)
        with pytest.raises(anthropic.BadRequestError, match="same top-level directory"):
            await c.beta.skills.create(
                files=[("SKILL.md", b"---\nname: a\ndescription: b\n---\n")], betas=BETAS
            )


async def test_skills_load_into_the_container(emu: AnthropicEmulator, tmp_path: Path) -> None:
    emu.model = Script(
        [
            [Bash("cat ../skills/house-style/SKILL.md; ls ../skills"), Say("ok")],
            [Bash("ls ../skills"), Say("again")],
        ]
    )
    async with client(emu) as c:
        skill = await c.beta.skills.create(files=files_from_dir(skill_folder(tmp_path)), betas=BETAS)
        skills: Any = [
            {"type": "anthropic", "skill_id": "pptx", "version": "latest"},
            {"type": "custom", "skill_id": skill.id, "version": "latest"},
        ]
        first = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            betas=BETAS,
            tools=[CODE],
            container={"skills": skills},
            messages=[{"role": "user", "content": "make slides"}],
        )
        result = first.content[1]
        assert result.type == "bash_code_execution_tool_result"
        assert result.content.type == "bash_code_execution_result"
        assert "Use our colours." in result.content.stdout and "pptx" in result.content.stdout
        assert first.container is not None and first.container.skills is not None
        assert [(s.skill_id, s.type) for s in first.container.skills] == [
            ("pptx", "anthropic"),
            (skill.id, "custom"),
        ]
        assert first.container.skills[1].version == skill.latest_version_id
        again = await c.beta.messages.create(
            model=MODEL,
            max_tokens=1000,
            betas=BETAS,
            tools=[CODE],
            container={"id": first.container.id, "skills": skills},
            messages=[{"role": "user", "content": "again"}],
        )
        assert again.container is not None and again.container.id == first.container.id
        with pytest.raises(anthropic.BadRequestError, match="skills-2025-10-02"):
            await c.beta.messages.create(
                model=MODEL,
                max_tokens=1000,
                betas=["code-execution-2025-08-25"],
                tools=[CODE],
                container={"skills": skills},
                messages=[{"role": "user", "content": "x"}],
            )
        with pytest.raises(anthropic.BadRequestError, match="at most 8"):
            await c.beta.messages.create(
                model=MODEL,
                max_tokens=1000,
                betas=BETAS,
                tools=[CODE],
                container={"skills": [{"type": "anthropic", "skill_id": "pptx"}] * 9},
                messages=[{"role": "user", "content": "x"}],
            )
