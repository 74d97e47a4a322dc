"""The Skills API as the bot uses it: upload a skill folder, add a version, find a skill by name.

Calls go through the SDK's beta skills resource with the `skills-2025-10-02` header, as the Agent
Skills guide shows (platform.claude.com/docs/en/build-with-claude/skills-guide, "Managing custom
Skills"): under that header a version is addressed by the epoch timestamp the guide describes, which
is what `container.skills` pins. Files go up as multipart `files[]`, each named with the skill's
top-level folder (`house-style/SKILL.md`), as the guide requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anthropic
from anthropic import AsyncAnthropic

from bot.claude.errors import classify_sdk

SKILLS_BETA = "skills-2025-10-02"


@dataclass(frozen=True)
class Uploaded:
    skill_id: str
    version: str


class SkillsApi:
    def __init__(self, client: AsyncAnthropic) -> None:
        self.client = client

    async def create(self, files: Sequence[tuple[str, bytes]]) -> Uploaded:
        """A new custom skill; its display name comes from the SKILL.md `name` (guide)."""
        try:
            skill = await self.client.beta.skills.create(files=list(files), betas=[SKILLS_BETA])
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return Uploaded(skill.id, skill.latest_version_id)

    async def add_version(self, skill_id: str, files: Sequence[tuple[str, bytes]]) -> Uploaded | None:
        """A new version of a skill (a complete snapshot: guide, "Versioning"); None when the skill is
        gone (deleted in the Console), so the caller creates it anew."""
        try:
            version = await self.client.beta.skills.versions.create(
                skill_id, files=list(files), betas=[SKILLS_BETA]
            )
        except anthropic.NotFoundError:
            return None
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return Uploaded(skill_id, version.id)

    async def find(self, name: str) -> str | None:
        """The id of the workspace's custom skill named `name`, if one exists (a lock file lost or not
        shared: the skill is adopted rather than uploaded a second time)."""
        try:
            async for skill in self.client.beta.skills.list(source="custom", betas=[SKILLS_BETA]):
                if skill.display_name == name:
                    return skill.id
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return None
