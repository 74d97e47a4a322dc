"""Agent Skills: Anthropic's pre-built ones from the settings, and the operator's own from
`SKILLS_DIR`, uploaded when they change and pinned to the version uploaded.

Each folder in `SKILLS_DIR` is one skill: a `SKILL.md` with `name` and `description` frontmatter
and the files it uses (the Agent Skills guide's requirements: the folder is named like the skill,
at most 30 MB in all). A skill's content is hashed; `skills.lock.json` in `SKILLS_DIR` records, per
skill, the hash, its Anthropic id and the version uploaded for it. A skill whose hash is in the lock
is not uploaded again; a changed one gets a new version; one the lock does not know is looked up by
name first (a lock that was lost or not shared), then created. Requests pin the locked version, so
a skill changes for Claude only when the operator's files do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.claude.errors import ClaudeError
from bot.claude.skills_api import SkillsApi
from bot.model import SkillRef

log = logging.getLogger(__name__)

LOCK_NAME = "skills.lock.json"
# At most this many skills per request (Agent Skills guide, "Limits and constraints").
MAX_SKILLS = 8
MAX_SKILL_BYTES = 30 * 1024 * 1024
ANTHROPIC_DESCRIPTIONS = {
    "xlsx": "Excel spreadsheets, with formulas and charts",
    "pptx": "PowerPoint presentations",
    "docx": "Word documents",
    "pdf": "PDF documents and forms",
}
_FRONTMATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.S)


class SkillsError(Exception):
    """The skills cannot be used as configured; the message says what to change."""


@dataclass(frozen=True)
class LocalSkill:
    folder: Path
    name: str
    description: str
    digest: str
    files: tuple[tuple[str, bytes], ...]  # ("<folder>/<path>", content), sorted


def anthropic_skills(names: list[str]) -> list[SkillRef]:
    return [SkillRef("anthropic", n, "latest", n, ANTHROPIC_DESCRIPTIONS.get(n, "")) for n in names]


def read_skills(skills_dir: Path) -> list[LocalSkill]:
    """Every skill folder under `skills_dir` (blocking: call it in a thread)."""
    if not skills_dir.is_dir():
        raise SkillsError(f"SKILLS_DIR {skills_dir} is not a folder.")
    return [read_skill(p) for p in sorted(skills_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def read_skill(folder: Path) -> LocalSkill:
    """One skill folder: its files (hidden ones left out), name, description and content hash."""
    files: list[tuple[str, bytes]] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files.append((f"{folder.name}/{rel.as_posix()}", path.read_bytes()))
    skill_md = next((data for name, data in files if name == f"{folder.name}/SKILL.md"), None)
    if skill_md is None:
        raise SkillsError(f"Skill folder {folder} has no SKILL.md at its top level.")
    if sum(len(data) for _, data in files) >= MAX_SKILL_BYTES:
        raise SkillsError(f"Skill folder {folder} holds 30 MB or more; Anthropic takes less.")
    name, description = frontmatter(skill_md.decode("utf-8", "replace"))
    if not name:
        raise SkillsError(f"{folder}/SKILL.md has no `name` in its frontmatter.")
    if folder.name.lower().replace("_", "-") != name:
        raise SkillsError(
            f"Skill folder {folder} must be named like its skill, `{name}` (Anthropic requires it)."
        )
    digest = hashlib.sha256()
    for path_name, data in files:
        digest.update(path_name.encode() + b"\0" + hashlib.sha256(data).digest())
    return LocalSkill(folder, name, description, digest.hexdigest(), tuple(files))


def frontmatter(text: str) -> tuple[str, str]:
    """`name` and `description` from a SKILL.md's YAML frontmatter (simple `key: value` lines)."""
    match = _FRONTMATTER.match(text)
    values: dict[str, str] = {}
    for line in (match.group(1) if match else "").splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t")):
            values[key.strip()] = value.strip().strip("'\"")
    return values.get("name", ""), values.get("description", "")


def load_lock(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SkillsError(f"{path} cannot be read ({exc}); delete it to upload the skills again.") from exc
    skills = data.get("skills") if isinstance(data, dict) else None
    return {k: dict(v) for k, v in skills.items()} if isinstance(skills, dict) else {}


def save_lock(path: Path, entries: dict[str, dict[str, str]]) -> None:
    """Written whole and renamed into place: a crash never leaves half a lock."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"skills": entries}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class SyncReport:
    skills: tuple[SkillRef, ...]
    uploaded: tuple[str, ...]  # names uploaded (created or new version) by this sync
    problems: tuple[str, ...]  # one line per skill that could not be brought up to date


async def sync(api: SkillsApi, skills_dir: Path) -> SyncReport:
    """Bring the uploaded skills in line with `skills_dir`; the skills to load, pinned. A skill that
    cannot be uploaded keeps its locked version (or is left out if it has none), with a problem line."""
    local = await asyncio.to_thread(read_skills, skills_dir)
    lock_path = skills_dir / LOCK_NAME
    lock = await asyncio.to_thread(load_lock, lock_path)
    entries: dict[str, dict[str, str]] = {}
    uploaded: list[str] = []
    problems: list[str] = []
    for skill in local:
        entry = lock.get(skill.name)
        if entry is not None and entry.get("digest") == skill.digest:
            entries[skill.name] = {**entry, "description": skill.description}
            continue
        try:
            skill_id, version = await _upload(api, skill, entry)
        except ClaudeError as exc:
            log.error("skill %s could not be uploaded: %s", skill.name, exc)
            problems.append(f"{skill.name}: not uploaded ({exc.user_message})")
            if entry is not None:
                entries[skill.name] = entry
            continue
        entries[skill.name] = {
            "skill_id": skill_id,
            "version": version,
            "digest": skill.digest,
            "description": skill.description,
        }
        uploaded.append(skill.name)
        log.info("skill %s uploaded: %s version %s", skill.name, skill_id, version)
    if entries != lock:
        await asyncio.to_thread(save_lock, lock_path, entries)
    refs = tuple(
        SkillRef("custom", e["skill_id"], e["version"], name, e.get("description", ""))
        for name, e in entries.items()
    )
    return SyncReport(refs, tuple(uploaded), tuple(problems))


async def _upload(api: SkillsApi, skill: LocalSkill, entry: dict[str, str] | None) -> tuple[str, str]:
    skill_id = entry.get("skill_id") if entry else None
    if skill_id is None:
        skill_id = await api.find(skill.name)
    if skill_id is not None:
        added = await api.add_version(skill_id, skill.files)
        if added is not None:
            return added.skill_id, added.version
    created = await api.create(skill.files)
    return created.skill_id, created.version


def all_skills(anthropic: list[SkillRef], custom: tuple[SkillRef, ...]) -> tuple[SkillRef, ...]:
    skills = (*anthropic, *custom)
    if len(skills) > MAX_SKILLS:
        raise SkillsError(
            f"{len(skills)} skills are configured ({len(anthropic)} of Anthropic's in ANTHROPIC_SKILLS, "
            f"{len(custom)} in SKILLS_DIR); Anthropic loads at most {MAX_SKILLS} per request."
        )
    return skills
