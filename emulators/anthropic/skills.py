"""Agent Skills: the Skills API (custom skills and their versions) and skills loaded into containers.

Sources (README "Agent Skills"): the Agent Skills guide
(https://platform.claude.com/docs/en/build-with-claude/skills-guide: prerequisites, the `container`
parameter, "How Skills are loaded", requirements and limits, versioning) and the SDK's types
(``types/skill.py``, ``types/skills/skill_version.py`` and their beta twins, ``container_params.py``,
``container_skill.py``, ``skill_create_params.py``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import BodyPartReader, web

from . import ids
from .errors import ApiError, invalid_request, not_found

SKILLS_BETA = "skills-2025-10-02"
# The guide's prerequisites for skills in the Messages API name both beta headers.
MESSAGES_BETAS = ("code-execution-2025-08-25", SKILLS_BETA)
MAX_SKILLS_PER_REQUEST = 8  # "Maximum Skills per request: 8" (guide, Limits)
MAX_UPLOAD_BYTES = 30 * 1024 * 1024  # "Total upload size must be under 30 MB (uncompressed)"
_NAME = re.compile(r"^[a-z0-9-]{1,64}$")
_RESERVED = ("anthropic", "claude")
_FRONTMATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.S)

# Anthropic's pre-built skills: short ids, date versions (guide, "Using Skills"). Their content here
# is the emulator's: a SKILL.md naming the library the real skill builds on.
ANTHROPIC_VERSION = "20251013"
_BUILTIN = {
    "pptx": ("PowerPoint presentations", "python-pptx"),
    "xlsx": ("Excel spreadsheets with formulas", "openpyxl"),
    "docx": ("Word documents", "python-docx"),
    "pdf": ("PDF documents and forms", "reportlab and pypdf"),
}


def _builtin_skill_md(name: str, what: str, library: str) -> bytes:
    return (
        f"---\nname: {name}\ndescription: Create and edit {what}. Use when asked for a .{name} file.\n---\n\n"
        f"# {name}\n\nBuild the file with {library} and save it in $OUTPUT_DIR.\n"
    ).encode()


@dataclass
class Version:
    id: str
    epoch: str  # how requests with the skills beta header address it (SDK docstring)
    name: str
    description: str
    created_at: float
    files: dict[str, bytes]  # path under the skill's directory -> content

    def body(self, skill_id: str, *, beta: bool) -> dict[str, Any]:
        return {
            "id": self.epoch if beta else self.id,
            "type": "skill_version",
            "skill_id": skill_id,
            "name": self.name,
            "description": self.description,
            "created_at": ids.rfc3339(self.created_at),
        }


@dataclass
class CustomSkill:
    id: str
    display_name: str
    created_at: float
    updated_at: float
    versions: dict[str, Version] = field(default_factory=dict)  # id -> version, oldest first

    def latest(self) -> Version:
        return list(self.versions.values())[-1]

    def find(self, ref: str) -> Version | None:
        if ref == "latest":
            return self.latest() if self.versions else None
        return next((v for v in self.versions.values() if ref in (v.id, v.epoch)), None)

    def body(self, *, beta: bool) -> dict[str, Any]:
        latest = self.latest()
        return {
            "id": self.id,
            "type": "skill",
            "display_name": self.display_name,
            "latest_version_id": latest.epoch if beta else latest.id,
            "source": {"type": "custom"},
            "created_at": ids.rfc3339(self.created_at),
            "updated_at": ids.rfc3339(self.updated_at),
        }


@dataclass(frozen=True)
class Loaded:
    """A skill resolved for one request: what goes into the container and into `container.skills`."""

    type: str
    skill_id: str
    version: str
    name: str
    files: Mapping[str, bytes]

    def body(self) -> dict[str, Any]:
        return {"skill_id": self.skill_id, "type": self.type, "version": self.version}


def betas_of(headers: Mapping[str, str]) -> set[str]:
    return {b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()}


class SkillStore:
    def __init__(self) -> None:
        self.custom: dict[str, CustomSkill] = {}
        self.uploads: list[list[str]] = []
        """The file names of every upload (create and new version), in order: what tests check."""
        self.copied: dict[str, set[tuple[str, str]]] = {}
        """Per container id: the (name, version) of the skills already copied into it."""

    # -- the Messages API side -----------------------------------------------------------------
    def resolve(self, skills: Any, betas: set[str], has_code_tool: bool) -> list[Loaded]:
        if not isinstance(skills, list):
            raise invalid_request("container.skills: Input should be a valid list")
        missing = [b for b in MESSAGES_BETAS if b not in betas]
        if missing:
            raise invalid_request(
                f"container.skills: skills require the `anthropic-beta` header(s) {', '.join(missing)}"
            )
        if not has_code_tool:
            raise invalid_request("container.skills: skills require the code execution tool in `tools`")
        if len(skills) > MAX_SKILLS_PER_REQUEST:
            raise invalid_request(
                f"container.skills: List should have at most {MAX_SKILLS_PER_REQUEST} items after "
                f"validation, not {len(skills)}"
            )
        loaded: list[Loaded] = []
        for i, spec in enumerate(skills):
            loc = f"container.skills.{i}"
            if not isinstance(spec, dict):
                raise invalid_request(f"{loc}: Input should be a valid dictionary")
            for key in spec:
                if key not in ("type", "skill_id", "version"):
                    raise invalid_request(f"{loc}.{key}: Extra inputs are not permitted")
            kind, skill_id, ref = spec.get("type"), spec.get("skill_id"), spec.get("version", "latest")
            if kind not in ("anthropic", "custom"):
                raise invalid_request(f"{loc}.type: Input should be 'anthropic' or 'custom'")
            if not isinstance(skill_id, str):
                raise invalid_request(f"{loc}.skill_id: Field required")
            if not isinstance(ref, str):
                raise invalid_request(f"{loc}.version: Input should be a valid string")
            loaded.append(self._load(kind, skill_id, ref, loc))
        if len({s.skill_id for s in loaded}) != len(loaded):
            raise invalid_request("container.skills: each skill may be listed once")
        return loaded

    def _load(self, kind: str, skill_id: str, ref: str, loc: str) -> Loaded:
        if kind == "anthropic":
            if skill_id not in _BUILTIN:
                raise invalid_request(f"{loc}.skill_id: Anthropic skill `{skill_id}` not found")
            if ref not in ("latest", ANTHROPIC_VERSION):
                raise invalid_request(f"{loc}.version: version `{ref}` of skill `{skill_id}` not found")
            what, library = _BUILTIN[skill_id]
            files = {"SKILL.md": _builtin_skill_md(skill_id, what, library)}
            return Loaded(kind, skill_id, ANTHROPIC_VERSION, skill_id, files)
        skill = self.custom.get(skill_id)
        if skill is None:
            raise invalid_request(f"{loc}.skill_id: skill `{skill_id}` not found")
        version = skill.find(ref)
        if version is None:
            raise invalid_request(f"{loc}.version: version `{ref}` of skill `{skill_id}` not found")
        # Requests carry the skills beta header, under which versions are epoch timestamps.
        return Loaded(kind, skill_id, version.epoch, version.name, version.files)

    # -- the Skills API ----------------------------------------------------------------------------
    async def create(self, request: web.Request) -> dict[str, Any]:
        form = await _read_upload(request)
        version = self._version(form.files, expected_name=None)
        now = time.time()
        display = form.display_name or version.name
        if form.display_name and any(s.display_name == display for s in self.custom.values()):
            # "an explicit value must be unique among the custom skills in your workspace" (guide)
            raise invalid_request(f"display_title: a skill named `{display}` already exists")
        skill = CustomSkill("skill_01" + ids.tail(22), display, now, now)
        skill.versions[version.id] = version
        self.custom[skill.id] = skill
        return skill.body(beta=_beta(request))

    async def create_version(self, request: web.Request) -> dict[str, Any]:
        skill = self._skill(request)
        form = await _read_upload(request)
        version = self._version(form.files, expected_name=skill.latest().name)
        skill.versions[version.id] = version
        skill.updated_at = version.created_at
        return version.body(skill.id, beta=_beta(request))

    def get(self, request: web.Request) -> dict[str, Any]:
        return self._skill(request).body(beta=_beta(request))

    def list(self, request: web.Request) -> dict[str, Any]:
        source = request.query.get("source")
        if source not in (None, "custom", "anthropic"):
            raise invalid_request("source: Input should be 'custom' or 'anthropic'")
        skills = [] if source == "anthropic" else list(self.custom.values())
        return {"data": [s.body(beta=_beta(request)) for s in skills], "next_page": None}

    def list_versions(self, request: web.Request) -> dict[str, Any]:
        skill = self._skill(request)
        data = [v.body(skill.id, beta=_beta(request)) for v in reversed(skill.versions.values())]
        return {"data": data, "next_page": None}

    def delete(self, request: web.Request) -> dict[str, Any]:
        skill = self._skill(request)
        if skill.versions:
            # "Attempting to delete a Skill with existing versions returns a 400 error." (guide)
            raise invalid_request("Cannot delete a skill that has versions; delete its versions first")
        del self.custom[skill.id]
        return {"id": skill.id, "type": "skill_deleted"}

    def delete_version(self, request: web.Request) -> dict[str, Any]:
        skill = self._skill(request)
        ref = request.match_info["version"]
        version = skill.find(ref) if ref != "latest" else None
        if version is None:
            raise not_found(f"version `{ref}` of skill `{skill.id}` not found")
        del skill.versions[version.id]
        return {"id": ref, "type": "skill_version_deleted"}

    def _skill(self, request: web.Request) -> CustomSkill:
        skill_id = request.match_info["skill_id"]
        skill = self.custom.get(skill_id)
        if skill is None:
            raise not_found(f"skill `{skill_id}` not found")
        return skill

    def _version(self, files: Sequence[tuple[str, bytes]], expected_name: str | None) -> Version:
        """A version from uploaded files, checked against the guide's Requirements."""
        if not files:
            raise invalid_request("files: at least one file is required")
        self.uploads.append([name for name, _ in files])
        if sum(len(data) for _, data in files) >= MAX_UPLOAD_BYTES:
            raise ApiError(413, "Total upload size must be under 30 MB (uncompressed)")
        roots = {PurePosixPath(name).parts[0] for name, _ in files if len(PurePosixPath(name).parts) > 1}
        if len(roots) != 1 or any(len(PurePosixPath(name).parts) < 2 for name, _ in files):
            raise invalid_request("files: all files must be in the same top-level directory")
        root = roots.pop()
        by_path = {str(PurePosixPath(*PurePosixPath(n).parts[1:])): d for n, d in files}
        if any(".." in PurePosixPath(p).parts for p in by_path):
            raise invalid_request("files: paths must not contain `..`")
        skill_md = by_path.get("SKILL.md")
        if skill_md is None:
            raise invalid_request("files: SKILL.md file must be at the root of the skill directory")
        name, description = _frontmatter(skill_md.decode("utf-8", "replace"))
        if root.lower().replace("_", "-") != name:
            raise invalid_request(
                f"files: the top-level directory `{root}` must match the SKILL.md name `{name}`"
            )
        if expected_name is not None and name != expected_name:
            raise invalid_request(f"files: a new version must keep the skill's name `{expected_name}`")
        now = time.time()
        epoch = str(int(now * 1_000_000))
        return Version("skillver_01" + ids.tail(22), epoch, name, description, now, by_path)


def _frontmatter(text: str) -> tuple[str, str]:
    match = _FRONTMATTER.match(text)
    if match is None:
        raise invalid_request("SKILL.md: YAML frontmatter with `name` and `description` is required")
    values: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t")):
            values[key.strip()] = value.strip().strip("'\"")
    name, description = values.get("name", ""), values.get("description", "")
    if not _NAME.match(name) or any(word in name for word in _RESERVED) or "<" in name:
        raise invalid_request(
            "SKILL.md: `name` must be at most 64 lowercase letters, numbers and hyphens, without the "
            'reserved words "anthropic" and "claude"'
        )
    if not description or len(description) > 1024 or "<" in description:
        raise invalid_request("SKILL.md: `description` must be 1-1024 characters, without XML tags")
    return name, description


@dataclass
class _Upload:
    files: list[tuple[str, bytes]]
    display_name: str | None


async def _read_upload(request: web.Request) -> _Upload:
    if not request.content_type.startswith("multipart/form-data"):
        raise invalid_request("Expected a multipart/form-data body with `files[]`")
    reader = await request.multipart()
    files: list[tuple[str, bytes]] = []
    display: str | None = None
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader)
        if part.name == "files[]":
            files.append((part.filename or "", bytes(await part.read())))
        elif part.name in ("display_name", "display_title"):
            display = (await part.text()) or None
        else:
            raise invalid_request(f"{part.name}: Extra inputs are not permitted")
    return _Upload(files, display)


def _beta(request: web.Request) -> bool:
    return SKILLS_BETA in betas_of(request.headers)


async def copy_into(root: Path, loaded: Sequence[Loaded], done: set[tuple[str, str]]) -> None:
    """Copy skills into the container: "Skill files are copied into the container at
    /skills/{skill-name}/" (guide, "How Skills are loaded"), here under the container's own root
    (no chroot, README LIMITS). `done` holds the (name, version) pairs the container already has: a
    thread's every request lists its skills, and copying them each time would cost a disk write."""
    todo = [s for s in loaded if (s.name, s.version) not in done]
    if not todo:
        return

    def write() -> None:
        for skill in todo:
            base = root / "skills" / skill.name
            for rel, data in skill.files.items():
                target = base / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)

    await asyncio.to_thread(write)
    done.update((s.name, s.version) for s in todo)
