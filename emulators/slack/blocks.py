"""Block Kit helpers: the rich_text Slack derives from plain text, what a person reads, and limits.

Slack stores a `rich_text` block for every message posted with plain `text` (fixtures
`chat.postMessage.json`, `message_im.json`): ``` fences become `rich_text_preformatted`, `<@U…>`
become `user` elements. Readers of the view want the reverse: the text a person actually sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .constants import MAX_BLOCKS, MAX_MARKDOWN_CHARS, MAX_SECTION_TEXT
from .models import JSON

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_FENCE = "```"


def rich_text_from_text(text: str, block_id: str) -> list[JSON]:
    """The `rich_text` block Slack stores for a plain-text message."""
    elements: list[JSON] = []
    parts = text.split(_FENCE)
    if len(parts) % 2 == 0:  # an unterminated fence is shown literally
        parts = [*parts[:-2], parts[-2] + _FENCE + parts[-1]]
    for index, part in enumerate(parts):
        if index % 2 == 1:
            elements.append(
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": part}], "border": 0}
            )
        elif part:
            elements.append({"type": "rich_text_section", "elements": _section_elements(part)})
    if not elements:
        elements.append({"type": "rich_text_section", "elements": []})
    return [{"type": "rich_text", "block_id": block_id, "elements": elements}]


def _section_elements(text: str) -> list[JSON]:
    out: list[JSON] = []
    position = 0
    for match in _MENTION.finditer(text):
        if match.start() > position:
            out.append({"type": "text", "text": text[position : match.start()]})
        out.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        out.append({"type": "text", "text": text[position:]})
    return out


def mentions(text: str) -> list[str]:
    return _MENTION.findall(text)


def blocks_text(blocks: Iterable[JSON]) -> str:
    """What a person reads in a list of blocks (markdown, section, header, context, rich_text)."""
    lines = [line for block in blocks if (line := _block_text(block))]
    return "\n".join(lines)


def _text_object(obj: Any) -> str:
    if isinstance(obj, dict):
        value = obj.get("text")
        return value if isinstance(value, str) else ""
    return ""


def _block_text(block: JSON) -> str:
    kind = block.get("type")
    if kind == "markdown":
        value = block.get("text")
        return value if isinstance(value, str) else ""
    if kind in ("section", "header"):
        parts = [_text_object(block.get("text"))]
        parts += [_text_object(f) for f in block.get("fields") or []]
        return "\n".join(p for p in parts if p)
    if kind == "context":
        return " ".join(t for e in block.get("elements") or [] if (t := _text_object(e)))
    if kind == "rich_text":
        return "".join(_rich_element_text(e) for e in block.get("elements") or [])
    return ""


def _rich_element_text(element: JSON) -> str:
    kind = element.get("type")
    children = element.get("elements") or []
    if kind == "rich_text_preformatted":
        return _FENCE + "".join(_rich_leaf_text(c) for c in children) + _FENCE
    if kind == "rich_text_quote":
        return "> " + "".join(_rich_leaf_text(c) for c in children)
    if kind == "rich_text_list":
        return "\n".join("• " + _rich_element_text(c) for c in children) + "\n"
    return "".join(_rich_leaf_text(c) for c in children)


def _rich_leaf_text(leaf: JSON) -> str:
    kind = leaf.get("type")
    if kind == "text":
        return str(leaf.get("text", ""))
    if kind == "user":
        return f"<@{leaf.get('user_id')}>"
    if kind == "channel":
        return f"<#{leaf.get('channel_id')}>"
    if kind == "link":
        return str(leaf.get("text") or leaf.get("url") or "")
    if kind == "emoji":
        return f":{leaf.get('name')}:"
    if "elements" in leaf:
        return _rich_element_text(leaf)
    return ""


def validate_blocks(blocks: Any) -> str | None:
    """The Slack error for an invalid `blocks` array, or None.

    Checks what bites a bot in practice (§6): ≤50 blocks, each an object with a `type`, section text
    ≤3,000 chars, cumulative markdown-block text ≤12,000 chars (`msg_blocks_too_long`).
    """
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
        return "invalid_blocks"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    markdown_total = 0
    for block in blocks:
        if block["type"] == "section" and len(_text_object(block.get("text"))) > MAX_SECTION_TEXT:
            return "invalid_blocks"
        if block["type"] == "markdown":
            markdown_total += len(_text_object(block))
    if markdown_total > MAX_MARKDOWN_CHARS:
        return "msg_blocks_too_long"
    return None


def find_action_element(blocks: Iterable[JSON], action_id: str) -> tuple[JSON, str] | None:
    """The interactive element with `action_id` and its block's `block_id` (actions, section accessory)."""
    for block in blocks:
        candidates: list[Any] = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, str(block.get("block_id", ""))
    return None


def action_ids(blocks: Iterable[JSON]) -> list[str]:
    found: list[str] = []
    for block in blocks:
        candidates: list[Any] = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        found += [str(e["action_id"]) for e in candidates if isinstance(e, dict) and "action_id" in e]
    return found


def ensure_block_ids(blocks: list[JSON], new_id: Callable[[], str]) -> list[JSON]:
    """Slack assigns a `block_id` to every block that lacks one (it shows up in block_actions payloads)."""
    return [b if "block_id" in b else {**b, "block_id": new_id()} for b in blocks]
