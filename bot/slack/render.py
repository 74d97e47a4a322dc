"""What the bot writes into Slack, as pure functions: answer splitting, task cards, buttons, lines.

Limits (slack-platform.md §6): `markdown_text` and markdown blocks hold at most 12,000 characters per
payload, 50 blocks per message. Answers are cut at paragraph or line boundaries, never inside a table;
a code fence that must be cut is closed at the end of one part and reopened in the next, so every
part renders with balanced fences.

A streamed message has a smaller limit of its own, on everything it carries: measured against real
Slack, `msg_too_long` came at 10,600-11,300 UTF-8 bytes of text plus task-card titles, with card
`details` and `output` counting twice, and only in UTF-8 bytes did the runs agree (openclaw/openclaw
#143882). `chunk_weight` counts that way, and a stream rolls over to a new message at `STREAM_BUDGET`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.model import StepFinished, StepStarted, StepStatus
from bot.slack.boundaries import bounded_cut
from bot.slack.safe_text import neutralize_mentions

# Room under Slack's 12,000 so a closing fence and a continuation marker always fit.
MESSAGE_CHARS = 11_000
# Weighted bytes per streamed message (chunk_weight), under the lowest size Slack was seen to refuse.
STREAM_BUDGET = 9_500
# Beyond this much text an answer goes up as a Markdown file with a short summary.
FILE_ANSWER_CHARS = 3 * MESSAGE_CHARS
SUMMARY_CHARS = 600
DETAILS_CHARS = 2_500
OUTPUT_CHARS = 1_500
# A card's fields in UTF-8 bytes (what a stream's size counts), so one card always fits a stream.
TITLE_BYTES = 200
DETAILS_BYTES = 2_500
OUTPUT_BYTES = 1_500
OUTPUT_LINES = 20
ERROR_LINES = 12

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


# --- fences and safe cut points ---------------------------------------------------------------------


def open_fence(text: str) -> str | None:
    """The opening line of a code fence left open at the end of `text`, or None."""
    opener: str | None = None
    marker = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        if opener is None:
            opener, marker = line.strip(), match.group(1)
        elif (
            match.group(1)[0] == marker[0]
            and len(match.group(1)) >= len(marker)
            and not match.group(2).strip()
        ):
            opener, marker = None, ""
    return opener


def closing_fence(opener: str) -> str:
    """The line that closes the fence `opener` opened (as long as its marker)."""
    match = _FENCE.match(opener)
    return match.group(1) if match else "```"


def choose_cut(text: str, limit: int, *, hard: bool = True) -> int:
    """Where to cut `text` so the first part has at most `limit` characters.

    Preference: the last paragraph break, then the last line break, that is not inside a table; a
    hard cut only when a single line is longer than the limit, and with `hard` False not even then
    (0: the caller starts a new message, where the line may fit).
    """
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    lines_end = [m.end() for m in re.finditer("\n", window)]
    candidates = [i for i in lines_end if not _inside_table(text, i)]
    paragraphs = [i for i in candidates if i >= 2 and text[i - 2 : i] == "\n\n"]
    # A paragraph break in the second half of the window keeps parts reasonably full.
    good_paragraphs = [i for i in paragraphs if i > limit // 2]
    if good_paragraphs:
        return good_paragraphs[-1]
    if candidates:
        return candidates[-1]
    return bounded_cut(text, limit) if hard else 0


def _inside_table(text: str, index: int) -> bool:
    """True when a cut at `index` (just after a newline) would separate two table rows."""
    before = text[:index].rstrip("\n").rsplit("\n", 1)[-1]
    after = text[index:].split("\n", 1)[0]
    return before.lstrip().startswith("|") and after.lstrip().startswith("|")


def split_markdown(text: str, limit: int = MESSAGE_CHARS) -> list[str]:
    """Split an answer into parts of at most `limit` (+ a fence line) characters, fences balanced."""
    parts: list[str] = []
    carry = ""
    rest = text
    while rest:
        budget = max(limit - len(carry), 200)
        cut = choose_cut(rest, budget)
        piece, rest = carry + rest[:cut], rest[cut:]
        opener = open_fence(piece)
        if opener is not None and rest:
            piece = piece.rstrip("\n") + "\n" + closing_fence(opener)
            carry = opener + "\n"
        else:
            carry = ""
        parts.append(piece)
    return parts or [""]


def summary_of(text: str) -> str:
    """The first paragraph(s) of a long answer, for the message that carries it as a file."""
    head = text.strip()[:SUMMARY_CHARS]
    cut = head.rfind("\n\n")
    if cut > 100:
        head = head[:cut]
    if open_fence(head) is not None:
        head = head.split("```", 1)[0].rstrip()
    return head + ("…" if len(text.strip()) > len(head) else "")


# --- task cards --------------------------------------------------------------------------------------


def head_lines(text: str, lines: int = OUTPUT_LINES, chars: int = OUTPUT_CHARS) -> str:
    kept = text.split("\n")
    out = "\n".join(kept[:lines])
    if len(out) > chars:
        out = out[:chars]
    if out != text.rstrip("\n") and len(out) < len(text):
        out = out.rstrip("\n") + "\n…"
    return out


def tail_lines(text: str, lines: int = ERROR_LINES, chars: int = OUTPUT_CHARS) -> str:
    kept = text.rstrip("\n").split("\n")
    out = "\n".join(kept[-lines:])
    if len(out) > chars:
        out = out[-chars:]
    return ("…\n" if len(kept) > lines or len(out) < len(text.rstrip("\n")) else "") + out


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _clip_bytes(text: str, limit: int) -> str:
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: limit - 3].decode("utf-8", "ignore") + "…"


# --- the size of a streamed message ------------------------------------------------------------------


def markdown_chunk(text: str) -> dict[str, Any]:
    return {"type": "markdown_text", "text": text}


def _bytes(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


def chunk_weight(chunk: dict[str, Any]) -> int:
    """What a stream chunk adds to its message's size as Slack counts it (see the module docstring);
    a blocks chunk counts as its JSON, which is more than Slack could count."""
    kind = chunk.get("type")
    if kind == "markdown_text":
        return _bytes(chunk.get("text"))
    if kind == "task_update":
        return _bytes(chunk.get("title")) + 2 * (_bytes(chunk.get("details")) + _bytes(chunk.get("output")))
    if kind == "plan_update":
        return _bytes(chunk.get("title"))
    return len(json.dumps(chunk, ensure_ascii=False).encode())


def chars_within(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-8 bytes."""
    return len(text.encode()[: max(limit, 0)].decode("utf-8", "ignore"))


LANGUAGES = {"bash": "bash", "python": "python", "edit": "", "tool": "json"}


def task_started(step: StepStarted) -> dict[str, Any]:
    """A code step's card as it starts. Everything on a card comes from the model or the code it ran,
    so mentions are neutralised like the answer's (safe_text)."""
    code = neutralize_mentions(_clip_bytes(_clip(step.code, DETAILS_CHARS), DETAILS_BYTES))
    return {
        "type": "task_update",
        "id": step.step_id,
        "title": card_title(step.title),
        "status": StepStatus.RUNNING.value,
        "details": f"```{LANGUAGES.get(step.kind, '')}\n{code}\n```" if code else "",
    }


def step_output(step: StepFinished) -> str:
    """What a finished step shows: the head of its output, or the last lines of its error."""
    if step.status is StepStatus.FAILED:
        if step.error and not step.stderr:
            return f"Error: {step.error}"
        trace = tail_lines(step.stderr or step.stdout)
        code = f" (exit code {step.return_code})" if step.return_code not in (None, 0) else ""
        return f"Failed{code}:\n```\n{trace}\n```"
    parts = []
    if step.stdout.strip():
        parts.append(f"```\n{head_lines(step.stdout)}\n```")
    if step.stderr.strip():
        parts.append(f"stderr:\n```\n{head_lines(step.stderr, lines=8, chars=600)}\n```")
    if step.file_ids:
        parts.append(f"{len(step.file_ids)} file(s) saved to the thread")
    return "\n".join(parts) or "Done, no output."


def task_finished(step: StepFinished, title: str, output: str) -> dict[str, Any]:
    return {
        "type": "task_update",
        "id": step.step_id,
        "title": card_title(title),
        "status": step.status.value,
        "output": _clip_bytes(neutralize_mentions(output), OUTPUT_BYTES),
    }


def card_title(title: str) -> str:
    return _clip_bytes(neutralize_mentions(title), TITLE_BYTES)


def task_continued(step_id: str, title: str, *, where: str) -> dict[str, Any]:
    """A running step's card when its message is closed before the step ends (`where` "below": the
    card it leaves behind) and in the message that takes it over ("above")."""
    card: dict[str, Any] = {
        "type": "task_update",
        "id": step_id,
        "title": card_title(title),
        "status": StepStatus.RUNNING.value,
    }
    if where == "below":
        card["output"] = "Still running: continued in the next message."
    else:
        card["details"] = "(continued from the previous message)"
    return card


def output_overflows(step: StepFinished) -> bool:
    """Output a card cannot show whole goes up as a text file instead of being cut off."""
    text = step.stdout + step.stderr
    return len(text) > OUTPUT_CHARS or text.count("\n") > OUTPUT_LINES


def full_output(step: StepFinished, title: str) -> str:
    parts = [f"# {title}\n"]
    if step.stdout:
        parts += ["## stdout\n", step.stdout]
    if step.stderr:
        parts += ["\n## stderr\n", step.stderr]
    return "\n".join(parts)


def task_line(title: str, status: StepStatus, output: str | None = None) -> str:
    """A task card as Markdown, for the fallback when streaming is not available."""
    icon = {StepStatus.RUNNING: "⏳", StepStatus.DONE: "✅", StepStatus.FAILED: "❌"}[status]
    # `**`: in a `markdown` block a single `*` is italic, not bold
    # (docs.slack.dev/reference/block-kit/blocks/markdown-block).
    line = f"{icon} **{neutralize_mentions(title)}**"
    if status is StepStatus.FAILED and output:
        line += "\n" + neutralize_mentions(output)
    return line + "\n"


# --- buttons and lines -------------------------------------------------------------------------------

STOP_ACTION = "stop_turn"
TURN_SEPARATOR = "#"  # never in a thread key (team:channel:ts)
NEW_SESSION_ACTION = "new_session"
RETRY_ACTION = "retry_turn"


@dataclass(frozen=True)
class Button:
    action_id: str
    text: str
    style: str | None = None
    confirm: str | None = None


def actions_block(value: str, *buttons: Button) -> dict[str, Any]:
    elements = []
    for b in buttons:
        element: dict[str, Any] = {
            "type": "button",
            "action_id": b.action_id,
            "text": {"type": "plain_text", "text": b.text},
            "value": value,
        }
        if b.style:
            element["style"] = b.style
        if b.confirm:
            element["confirm"] = {
                "title": {"type": "plain_text", "text": "Are you sure?"},
                "text": {"type": "plain_text", "text": b.confirm},
                "confirm": {"type": "plain_text", "text": "Yes"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            }
        elements.append(element)
    return {"type": "actions", "block_id": f"controls-{buttons[0].action_id}", "elements": elements}


STOP_TEXT = "Working on it: press Stop to cancel."


def stop_controls(thread_value: str, turn_id: str | None = None) -> list[dict[str, Any]]:
    """The Stop button of one turn, on a message of its own that is deleted when the turn ends (a
    streamed message keeps every block it was given, so a Stop streamed with the answer would stay
    on it for good). Its value names the turn too, so that a Stop that outlived its turn (its
    deletion failed) never stops a later turn of the thread."""
    value = f"{thread_value}{TURN_SEPARATOR}{turn_id}" if turn_id else thread_value
    return [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": STOP_TEXT}]},
        actions_block(value, Button(STOP_ACTION, "Stop", style="danger")),
    ]


def parse_stop_value(value: str) -> tuple[str, str | None]:
    """(thread key, turn id or None) of a Stop button's value."""
    thread_value, _, turn_id = value.partition(TURN_SEPARATOR)
    return thread_value, turn_id or None


def after_controls(thread_value: str, *, retry: bool = False) -> list[dict[str, Any]]:
    buttons = [Button(RETRY_ACTION, "Retry", style="primary")] if retry else []
    buttons.append(
        Button(
            NEW_SESSION_ACTION,
            "New session",
            confirm="This forgets the conversation and the sandbox (variables and files) of this thread.",
        )
    )
    return [actions_block(thread_value, *buttons)]


def notice_line(text: str) -> str:
    return f"\n\n> _{text}_\n\n"


def warning_line(text: str) -> str:
    return f"\n\n:warning: {text}\n"
