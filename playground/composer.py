"""What the page's composer sends, turned into what the Slack client would: pure functions.

Slack's client turns a mention picked in the composer into `<@U…>` in the message text (the app
then finds itself in `text` and gets `app_mention`); a line starting with `/` is a slash command,
which Slack refuses inside threads ("Slash commands created by developers cannot … be invoked in
message threads", api.slack.com/slash-commands; reference §0 fact 9).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_MENTION = re.compile(r"(?<![\w.@])@([^\W\d_][\w.-]*)")
_CODE = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.DOTALL)
_COMMAND = re.compile(r"^/([a-z][a-z0-9_-]*)(?:\s+(.*))?$", re.DOTALL)


def slack_text(text: str, handles: Mapping[str, str]) -> str:
    """`@name` → `<@U…>` for the people and apps in `handles` (lower-case name → user id); anything
    else (an e-mail address, an unknown name, text in code) is left as typed."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        # A sentence may end right after a mention ("thanks @ana."): try without trailing dots.
        stripped = name.rstrip(".")
        user_id = handles.get(stripped.lower())
        if user_id is None:
            return match.group(0)
        return f"<@{user_id}>" + name[len(stripped) :]

    # Odd parts are code (``` blocks, `spans`): Slack's composer makes no mentions there.
    parts = _CODE.split(text)
    return "".join(part if i % 2 else _MENTION.sub(replace, part) for i, part in enumerate(parts))


@dataclass(frozen=True)
class SlashCommand:
    command: str  # "/claude"
    text: str


def slash_command(text: str) -> SlashCommand | None:
    """The command a composer line runs, or None for an ordinary message."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return SlashCommand(f"/{match.group(1)}", (match.group(2) or "").strip())
