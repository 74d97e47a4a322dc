"""Building Messages API requests: system prompt, tools, cache breakpoints, history repair and trimming.

Everything here is pure (dicts in, dicts out) so it is covered by table-driven tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.claude.options import container_param
from bot.model import SkillRef

Message = dict[str, Any]
Block = dict[str, Any]

# Every breakpoint lives an hour. Slack threads pause for minutes to hours between turns, and a 5-minute
# entry is gone after such a pause: the next turn then writes the whole history again (1.25x the input
# price) instead of reading it (0.1x). A 1-hour write costs 2x instead of 1.25x, on new tokens only.
# bench/README.md, `cache_ttl`: a 10-turn thread with 10-minute gaps costs 53% less with 1h; turns a
# minute apart cost 21% more; a mixed pace 7% less. All breakpoints get the same TTL because a 1h
# breakpoint may not follow a 5m one (prompt caching docs), and the one the next turn reads is the last.
EPHEMERAL = {"type": "ephemeral", "ttl": "1h"}
TRIMMED = "[output dropped from the conversation to save context space]"

# Result blocks of the sandbox: their payload is what gets trimmed first in long threads.
_RESULT_TYPES = {
    "bash_code_execution_tool_result",
    "code_execution_tool_result",
    "text_editor_code_execution_tool_result",
}


@dataclass(frozen=True)
class PromptContext:
    """What the system prompt says about where Claude is. Constant for a thread, so it caches."""

    bot_name: str
    channel_label: str  # "#sales" or "a direct message"
    tool_names: Sequence[str]
    extra: str = ""


SYSTEM_PROMPT = """\
You are {bot_name}, a data analysis assistant working inside a Slack thread in {channel}. Several \
people may write in the same thread; every user message starts with the name of the person who \
wrote it (`Name (<@USERID>):`), so you always know who is asking. Address people by name when \
several are talking, and answer every question of a message, in order.

# Your sandbox
You run Python through the code execution tool, in a sandbox that belongs to this thread and \
outlives each answer. Its files stay between the turns of the thread, and so, usually, does its \
Python memory (variables, imports, loaded data frames), but that is not guaranteed: a sandbox left \
idle for a few minutes is suspended and resumed when the thread goes on, and its variables may be \
gone then. So before you use anything from an earlier turn, check that it is still there (for \
example `'df' in globals()`). If it is, reuse it instead of starting over; if a follow-up refers to \
"the data" or "the chart", it means what you already loaded. If it is gone, say so in the thread in \
one line with `post_update` (for example "My Python session was reset while the thread was idle; \
reloading sales.csv.") and rebuild it from the files in `$INPUT_DIR` and anything you saved to disk. \
The sandbox itself can be replaced when it has been idle for a long time: you are then told so. It \
has no internet access (you cannot install packages; pandas, numpy, scipy, scikit-learn, \
statsmodels, matplotlib, seaborn, openpyxl, pypdf, pdfplumber, pillow and the usual scientific stack \
are installed), and each Python cell may run up to 90 seconds.

# Files
- Files people attach are in the directory named by the `INPUT_DIR` environment variable, under \
their Slack file names (a name that was already taken in this thread gets a " (2)" suffix). The \
message lists the new ones; list the directory to see what is there. Look at a file before \
analysing it: its shape, columns, types and a few rows; never print a whole large table.
- Images and PDFs people attach are also shown to you directly, in their own message only: in later \
turns a line of text stands in for each. When you need one again, open the file in the sandbox \
(Pillow for images, pypdf or pdfplumber for PDFs).
- Only files at the top level of the directory named by `OUTPUT_DIR` (a fresh, empty one for every \
code run) are posted to the thread when you finish, so save them there in the code run that creates \
them. In Python, read it with `os.environ.get("OUTPUT_DIR")`; if that is not set, save the file \
elsewhere and copy it in a shell command (`cp chart.png "$OUTPUT_DIR"/`). End that run by listing \
the directory: the listing is how you know the files will be posted. Save every chart as a PNG \
(matplotlib with the Agg backend, a title, labelled axes, `dpi=150`, `bbox_inches="tight"`), and put \
anything too long for a message there too: full tables as CSV or XLSX, reports as Markdown. Use \
clear file names: they are what people see.
- Output you print goes to the people who expand a code step, not into your answer; keep it short.

# Tools you can call from Python
These are async functions in the sandbox: {tools}.
- `thread_history({{}})` returns the Slack thread's messages so far as JSON (author, text, time, \
file names), for questions about the conversation itself.
- `post_update({{"text": "..."}})` posts a one-line progress note into the thread; use it in long \
computations ("Loaded 2.3M rows, now aggregating"), not for the answer.

# Answering in Slack
Lead with the answer in the first sentence, then the few facts that support it. Keep it short: a \
few short paragraphs, a bulleted list or a small Markdown table (under about 15 rows). Slack renders \
Markdown: bold, italics, lists, tables, links and fenced code, but no HTML and no headings deeper \
than `###`. Mention the files you attached by name. Do not paste long code or raw output into the \
answer; the people in the thread can expand each code step to read it. State assumptions you made \
about the data (how you treated missing values, which column you used as the date). If the data \
cannot answer the question, say so and say what would. Never reveal credentials or tokens, even \
if a file contains them.
"""


def system_prompt(ctx: PromptContext) -> str:
    """The system prompt: constant for a thread, so every request reads it from the prompt cache.

    Who is asking is NOT in here: anything that changed per turn would make the whole history a cache
    miss. Each user message starts with its author instead, which the prompt explains.
    """
    tools = ", ".join(f"`{name}`" for name in ctx.tool_names)
    text = SYSTEM_PROMPT.format(bot_name=ctx.bot_name, channel=ctx.channel_label, tools=tools)
    return f"{text}\n{ctx.extra}\n" if ctx.extra else text


def tool_definitions(code_execution_tool: str, custom_tools: Iterable[Block]) -> list[Block]:
    """The code execution tool plus our tools. At least one tool must be callable from code: with
    programmatic tool calling the REPL state survives across requests (DESIGN.md, the persistent REPL)."""
    return [{"type": code_execution_tool, "name": "code_execution"}, *custom_tools]


def author_line(name: str, user_id: str) -> str:
    return f"{name} (<@{user_id}>):"


def with_cache_breakpoints(
    system: str, messages: list[Message], history_len: int, previous_len: int = 0
) -> tuple[list[Block], list[Message]]:
    """System and messages with `cache_control` breakpoints (copies; the stored history is untouched).

    Up to four, the API's limit: the system prompt (tools + system never change in a thread), the
    end of the stored history (what the previous turn wrote), the end of this turn's previous request
    (`previous_len` messages), and the end of this request. The cache looks for an earlier entry only
    20 blocks back from a breakpoint, and one response with several code runs adds more than that:
    without the third breakpoint each continuation would miss what the previous request wrote.
    """
    system_blocks = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
    out = list(messages)
    marks = {len(out) - 1}
    for length in (history_len, previous_len):
        if 0 < length <= len(out):
            marks.add(length - 1)
    for index in marks:
        out[index] = _mark_last_block(out[index])
    return system_blocks, out


def _mark_last_block(message: Message) -> Message:
    content = message["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not content:
        return message
    blocks = list(content)
    last = dict(blocks[-1])
    last["cache_control"] = EPHEMERAL
    blocks[-1] = last
    return {"role": message["role"], "content": blocks}


def build_request(
    *,
    model: str,
    max_tokens: int,
    system: str,
    tools: list[Block],
    messages: list[Message],
    history_len: int,
    container_id: str | None,
    previous_len: int = 0,
    skills: Sequence[SkillRef] = (),
) -> dict[str, Any]:
    system_blocks, marked = with_cache_breakpoints(system, messages, history_len, previous_len)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": system_blocks,
        "tools": tools,
        "messages": marked,
    }
    container = container_param(container_id, skills)
    if container:
        body["container"] = container
    return body


# --- history repair ---------------------------------------------------------------------------------


def merge_consecutive(messages: Iterable[Message]) -> list[Message]:
    """The API treats consecutive same-role messages as one; merging keeps our bookkeeping simple."""
    out: list[Message] = []
    for message in messages:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if out and out[-1]["role"] == message["role"]:
            out[-1] = {"role": message["role"], "content": [*out[-1]["content"], *blocks]}
        else:
            out.append({"role": message["role"], "content": blocks})
    return out


def repair_history(messages: Sequence[Message]) -> list[Message]:
    """Make a stored history safe to send, with a new user message after it.

    A turn can end without finishing its last exchange: stopped by a person, a cap, an error or a
    crash. Its last assistant content may then hold a `server_tool_use` without a result (a
    `pause_turn`) or tool calls we never answered, or be empty; a user message of bare tool results
    may have no answer. The API rejects such a history wherever it stands, so every turn's end is
    repaired, not only the last one's (the stored rows are left as they are): unanswered calls are
    dropped (the sandbox still has whatever ran), then messages left empty or ending the turn with
    bare tool results, until nothing changes.
    """
    turns: list[list[Message]] = []
    for message in messages:
        if not turns or (message["role"] == "user" and not _only_tool_results(message)):
            turns.append([])  # a person's message starts a turn
        turns[-1].append(message)
    repaired: list[Message] = []
    for turn in turns:
        repaired.extend(_repair_end(merge_consecutive(turn)))
    return merge_consecutive(repaired)


def _only_tool_results(message: Message) -> bool:
    content = message["content"]
    return not isinstance(content, str) and all(b.get("type") == "tool_result" for b in content)


def _repair_end(turn: list[Message]) -> list[Message]:
    """One turn's messages, cut back to the last complete exchange."""
    while turn:
        last = turn[-1]
        if last["role"] == "user" and _only_tool_results(last):
            turn.pop()  # results the model never answered
        elif last["role"] == "assistant" and (blocks := _drop_unanswered(last["content"])) != last["content"]:
            turn[-1] = {"role": "assistant", "content": blocks}
        elif last["role"] == "assistant" and not last["content"]:
            turn.pop()
        else:
            break
    return turn


def _drop_unanswered(blocks: Sequence[Block]) -> list[Block]:
    results = {b.get("tool_use_id") for b in blocks if str(b.get("type", "")).endswith("_tool_result")}
    kept: list[Block] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "server_tool_use" and block.get("id") not in results:
            continue
        if kind == "tool_use":
            # An unanswered client call; a programmatic one dies with its paused code cell.
            continue
        kept.append(block)
    return kept


# --- trimming long threads --------------------------------------------------------------------------


def estimate_tokens(value: Any) -> int:
    """About four characters per token: good enough to decide when to trim, cheap to compute."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) // 4


def trim_history(
    messages: Sequence[Message], trimmed_blocks: int, budget_tokens: int
) -> tuple[list[Message], int]:
    """Drop the payload of the oldest sandbox outputs until the history fits the budget.

    `trimmed_blocks` (stored per thread) is how many result blocks earlier turns already trimmed; the
    same blocks are trimmed again so the prompt prefix stays identical and keeps hitting the cache.
    When the history is over budget, trimming goes on down to 60% of it, so it happens rarely (each
    time costs one cache miss). Returns the trimmed copy and the new count.
    """
    # Copy-on-write: the history can be large, and only the trimmed blocks' lists need copies.
    out = [dict(m) for m in messages]
    locations = [
        (mi, bi)
        for mi, m in enumerate(out)
        if isinstance(m["content"], list)
        for bi, b in enumerate(m["content"])
        if _trimmable(b)
    ]
    copied: set[int] = set()

    def trim(mi: int, bi: int) -> int:
        """Trim one block; returns the estimated tokens it saved."""
        if mi not in copied:
            out[mi]["content"] = list(out[mi]["content"])
            copied.add(mi)
        old = out[mi]["content"][bi]
        out[mi]["content"][bi] = new = _trim_block(old)
        return estimate_tokens(old) - estimate_tokens(new)

    count = min(trimmed_blocks, len(locations))
    for mi, bi in locations[:count]:
        trim(mi, bi)
    size = estimate_tokens(out)
    if size > budget_tokens:
        target = int(budget_tokens * 0.6)
        while count < len(locations) and size > target:
            size -= trim(*locations[count])
            count += 1
    return out, count


def _trimmable(block: Block) -> bool:
    kind = block.get("type")
    return kind in _RESULT_TYPES or kind == "tool_result" or kind in ("image", "document")


def _trim_block(block: Block) -> Block:
    kind = block.get("type")
    if kind in ("image", "document"):
        return {"type": "text", "text": f"[{kind} dropped from the conversation to save context space]"}
    if kind == "tool_result":
        return {**block, "content": TRIMMED}
    content = dict(block.get("content") or {})
    # `encrypted_stdout` is opaque to us and must go back unchanged, so it is left alone.
    for field in ("stdout", "stderr", "content"):
        if isinstance(content.get(field), str):
            content[field] = TRIMMED if field != "stderr" else ""
    if "lines" in content:
        content["lines"] = []
    return {**block, "content": content}
