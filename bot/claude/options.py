"""The per-turn options as the Messages API takes them: web tools, skills in `container`, the beta
headers skills need, and what the system prompt says about them (pure).

Sources: the web search and web fetch tool pages (platform.claude.com/docs/en/agents-and-tools/
tool-use/web-search-tool, .../web-fetch-tool), the SDK's `web_search_tool_20260318_param.py` and
`web_fetch_tool_20260318_param.py`, and the Agent Skills guide (platform.claude.com/docs/en/
build-with-claude/skills-guide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.model import SkillRef, WebAccess

Block = dict[str, Any]

# The current versions. From 20260209 on, Claude can filter results with code before they reach its
# context, and code execution in a request that offers one of them is not billed (code execution
# tool page, pricing; reference §6).
WEB_SEARCH_TOOL = "web_search_20260318"
WEB_FETCH_TOOL = "web_fetch_20260318"
FREE_CODE_EXECUTION_FROM = "20260209"
# The Agent Skills guide's prerequisites name both headers for skills in the Messages API (the SDK
# and the code execution tool page say code execution itself needs none since 20250825: it is kept
# because the skills guide still lists it).
SKILLS_BETAS = ("code-execution-2025-08-25", "skills-2025-10-02")


def web_tools(web: WebAccess) -> list[Block]:
    """The web tool definitions for a turn (none when both are off)."""
    domains: Block = {}
    if web.allowed_domains:
        domains["allowed_domains"] = list(web.allowed_domains)
    elif web.blocked_domains:
        domains["blocked_domains"] = list(web.blocked_domains)
    tools: list[Block] = []
    if web.search:
        tools.append({"type": WEB_SEARCH_TOOL, "name": "web_search", **domains})
    if web.fetch:
        tools.append({"type": WEB_FETCH_TOOL, "name": "web_fetch", **domains})
    return tools


def code_execution_is_free(tools: Sequence[Mapping[str, Any]]) -> bool:
    """Whether requests with these tools run code without container-time charges: they offer web
    search or web fetch at version 20260209 or later (code execution tool page, "Pricing")."""
    for tool in tools:
        kind = str(tool.get("type", ""))
        name, _, version = kind.rpartition("_")
        if name in ("web_search", "web_fetch") and version.isdigit() and version >= FREE_CODE_EXECUTION_FROM:
            return True
    return False


def container_param(container_id: str | None, skills: Sequence[SkillRef]) -> str | Block | None:
    """The `container` of a request. Without skills, the thread's container id as a plain string
    (the object form without skills is refused, reference §2.1). With skills, the object form on
    every request, the container's id in it once there is one: the guide's multi-turn and
    `pause_turn` examples send `{"id": ..., "skills": [...]}`. The list keeps one order, since
    skills render into the system prompt and a changed list is a prompt-cache miss (guide, "Prompt
    caching considerations")."""
    if not skills:
        return container_id
    param: Block = {
        "skills": [{"type": s.kind, "skill_id": s.skill_id, "version": s.version} for s in skills]
    }
    if container_id:
        param["id"] = container_id
    return param


def beta_headers(body: Mapping[str, Any]) -> dict[str, str]:
    """The `anthropic-beta` header a request needs: only skills ask for one."""
    container = body.get("container")
    if isinstance(container, dict) and container.get("skills"):
        return {"anthropic-beta": ",".join(SKILLS_BETAS)}
    return {}


def container_id_of(param: Any) -> str | None:
    if isinstance(param, str):
        return param
    if isinstance(param, dict) and isinstance(param.get("id"), str):
        return str(param["id"])
    return None


def prompt_notes(web: WebAccess, skills: Sequence[SkillRef]) -> str:
    """What the system prompt says about the web and the skills (constant for a deployment, so it
    stays in the prompt cache)."""
    parts: list[str] = []
    if web.search or web.fetch:
        can = " and ".join(
            what
            for on, what in (
                (web.search, "search the web with `web_search`"),
                (web.fetch, "read a web page whose address is in the conversation with `web_fetch`"),
            )
            if on
        )
        sites = ""
        if web.allowed_domains:
            sites = f" Only these sites can be reached: {', '.join(web.allowed_domains)}."
        elif web.blocked_domains:
            sites = f" These sites are blocked: {', '.join(web.blocked_domains)}."
        parts.append(
            "# The web\n"
            f"You can {can}. Use it for facts that are recent or not in the thread's data, and say "
            "where each fact comes from: cited sources are listed under your answer as numbered links. "
            "Your sandbox still has no internet access: pages come to you, not to Python (copy the "
            f"figures you need into your code).{sites}"
        )
    if skills:
        listed = "\n".join(
            f"- `{s.name}`: {s.description}" if s.description else f"- `{s.name}`" for s in skills
        )
        parts.append(
            "# Skills\n"
            "These skills are installed in your sandbox, each in `/skills/<name>/`. Before you use one, "
            "read its `SKILL.md` and follow it. When someone asks for a spreadsheet, a presentation, a "
            "Word document or a PDF, make a real file with the matching skill and save it in "
            f"`$OUTPUT_DIR`, so it is posted to the thread.\n{listed}"
        )
    return "\n\n".join(parts)
