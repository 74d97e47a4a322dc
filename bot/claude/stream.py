"""Reading a streamed Messages API response: SSE lines -> the final message + neutral TurnEvents.

We parse the raw SSE ourselves instead of using the SDK's accumulating helper: the content blocks
stay the exact dicts the API sent (stored verbatim as history and sent back unchanged, as
`pause_turn` and tool-result continuations require), and it costs a fraction of the CPU per event
(the benchmark budget is 25 ms of bot CPU per turn). Event order: anthropic-code-execution.md §7.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.model import Citation, StepFinished, StepStarted, StepStatus, TextDelta, TurnEvent, Usage

_STEP_KINDS = {
    "bash_code_execution": "bash",
    "code_execution": "python",
    "text_editor_code_execution": "edit",
    "web_search": "web",
    "web_fetch": "web",
}
# What a failed web step says, from the tools' error codes (SDK `web_search_tool_result_error_code.py`,
# `web_fetch_tool_result_error_code.py`; meanings from the web search and web fetch tool pages).
WEB_ERRORS = {
    "max_uses_exceeded": "the most searches or reads one request may make were used",
    "too_many_requests": "the web tool is rate limited; try again shortly",
    "query_too_long": "the search query was too long",
    "url_not_allowed": "that site is not allowed here",
    "url_not_in_prior_context": "only addresses that appeared in the conversation can be read",
    "url_not_accessible": "the page could not be reached",
    "url_too_long": "the address was too long",
    "unsupported_content_type": "the page is of a kind that cannot be read",
    "content_too_large": "the page is too large to read",
    "unavailable": "the web tool is unavailable right now",
}


class StreamError(Exception):
    """An `event: error` in the middle of a stream (e.g. overloaded_error): the response is lost."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass
class ModelResponse:
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    stop_details: Any = None
    container_id: str | None = None
    container_expires_at: str | None = None
    usage: Usage = field(default_factory=Usage)


class LineTooLong(Exception):
    """One SSE line longer than the reader accepts."""


class SSELines:
    """Splits the bytes of a response, chunk by chunk, into its lines (without their line ends).

    The stream is read in whatever chunks arrive, not line by line: aiohttp's `readline` costs a
    few Python calls per line, three lines per event, and with 1,000 answers streaming at once
    that was an eighth of the bot's CPU. A line may span many chunks (a sandbox result arrives
    whole, in one `data:` line): it is collected in one buffer, never copied chunk by chunk."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        buffer = self._buffer
        searched = len(buffer)  # no line end in what was kept of earlier chunks
        buffer += chunk
        if buffer.find(b"\n", searched) < 0:
            if len(buffer) > self.max_line:
                raise LineTooLong(f"an SSE line over {self.max_line} bytes")
            return []
        *lines, rest = bytes(buffer).split(b"\n")
        self._buffer = bytearray(rest)
        if len(rest) > self.max_line:
            raise LineTooLong(f"an SSE line over {self.max_line} bytes")
        return [line.decode("utf-8").removesuffix("\r") for line in lines]


class SSEParser:
    """Turns SSE lines into decoded `data:` payloads. Only the JSON matters: every payload carries
    its own `type`, so `event:` names and `ping`s need no handling beyond skipping."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> dict[str, Any] | None:
        if line.startswith("data:"):
            self._data.append(line[5:].lstrip(" "))
            return None
        if line == "" and self._data:
            payload = "\n".join(self._data)
            self._data = []
            decoded: dict[str, Any] = json.loads(payload)
            return decoded
        return None


class ResponseAccumulator:
    """Builds the final message from stream events and says what a person should see meanwhile."""

    def __init__(self) -> None:
        self.response = ModelResponse()
        self._json_parts: dict[int, list[str]] = {}
        # Text is joined once per block: appending to a growing string would be quadratic.
        self._text_parts: dict[int, list[str]] = {}
        self._stopped: set[int] = set()
        self._start_usage: dict[str, Any] = {}

    @property
    def started(self) -> bool:
        """Whether a content block began: from then on the response may have run code, so it must
        not be requested again as if nothing had happened."""
        return bool(self.response.content)

    def partial(self) -> ModelResponse:
        """What arrived of a response that broke off: finished blocks, the text streamed so far and
        result blocks (they arrive whole, §7). A tool call or thinking block still open is left out:
        its input is incomplete, so it cannot have run (a server tool runs after its block stops)."""
        content: list[dict[str, Any]] = []
        for index, block in enumerate(self.response.content):
            kind = str(block.get("type", ""))
            if kind == "text" and index not in self._stopped:
                block = {**block, "text": block.get("text", "") + "".join(self._text_parts.get(index, []))}
            elif not (index in self._stopped or kind.endswith("_tool_result")):
                continue
            if kind != "text" or block.get("text"):
                content.append(block)
        return ModelResponse(content=content, usage=self.response.usage)

    def feed(self, event: dict[str, Any]) -> list[TurnEvent]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            return self._start(event)
        if kind == "content_block_stop":
            return self._stop(event)
        if kind == "message_start":
            self._start_usage = event["message"].get("usage") or {}
            self.response.usage = _usage(self._start_usage, {})
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            self.response.stop_reason = delta.get("stop_reason")
            self.response.stop_details = delta.get("stop_details")
            container = delta.get("container")
            if container:
                self.response.container_id = container.get("id")
                self.response.container_expires_at = container.get("expires_at")
            self.response.usage = _usage(self._start_usage, event.get("usage") or {})
        elif kind == "error":
            error = event.get("error") or {}
            raise StreamError(str(error.get("type", "error")), str(error.get("message", "")))
        return []

    def _start(self, event: dict[str, Any]) -> list[TurnEvent]:
        block = dict(event["content_block"])
        index = int(event["index"])
        self._place(index, block)
        if block.get("type") in ("server_tool_use", "tool_use"):
            self._json_parts[index] = []
        if str(block.get("type", "")).endswith("_tool_result"):
            return [finished_event(block)]
        return []

    def _delta(self, event: dict[str, Any]) -> list[TurnEvent]:
        delta = event["delta"]
        index = int(event["index"])
        dtype = delta.get("type")
        if dtype == "text_delta":
            self._text_parts.setdefault(index, []).append(delta["text"])
            return [TextDelta(delta["text"])]
        if dtype == "input_json_delta":
            self._json_parts.setdefault(index, []).append(delta.get("partial_json", ""))
        elif dtype == "citations_delta":
            self.response.content[index].setdefault("citations", []).append(delta["citation"])
        elif dtype in ("thinking_delta", "signature_delta"):
            field_name = "thinking" if dtype == "thinking_delta" else "signature"
            block = self.response.content[index]
            block[field_name] = block.get(field_name, "") + delta[field_name]
        return []

    def _stop(self, event: dict[str, Any]) -> list[TurnEvent]:
        index = int(event["index"])
        self._stopped.add(index)
        parts = self._json_parts.pop(index, None)
        block = self.response.content[index]
        texts = self._text_parts.pop(index, None)
        if texts is not None:
            block["text"] = block.get("text", "") + "".join(texts)
        if parts is not None:
            raw = "".join(parts)
            if raw:
                try:
                    block["input"] = json.loads(raw)
                except ValueError:
                    # Cut off by max_tokens mid-input: the call never runs (the turn ends with
                    # max_tokens, and the history repair drops the unanswered call).
                    block["input"] = {}
            elif not isinstance(block.get("input"), dict):
                # A call without arguments gets no input fragments (only an empty one), and the
                # documented streaming example starts tool blocks without `input`: the block is sent
                # back as history, where the API requires `input` (anthropic-sdk-java#382, the
                # code-execution docs' "Streaming" example).
                block["input"] = {}
        if block.get("type") == "server_tool_use":
            return [started_event(block)]
        if block.get("type") == "text" and block.get("citations"):
            return citations_of(block)
        return []

    def _place(self, index: int, block: dict[str, Any]) -> None:
        content = self.response.content
        while len(content) <= index:
            content.append({})
        content[index] = block


def _usage(start: dict[str, Any], final: dict[str, Any]) -> Usage:
    """`message_delta` usage is cumulative; fields it lacks come from `message_start`."""

    def pick(name: str) -> int:
        value = final.get(name)
        if value is None:
            value = start.get(name)
        return int(value or 0)

    def nested(name: str, field: str) -> int:
        value = (final.get(name) or {}).get(field)
        if value is None:
            value = (start.get(name) or {}).get(field)
        return int(value or 0)

    return Usage(
        input_tokens=pick("input_tokens"),
        output_tokens=pick("output_tokens"),
        cache_read_tokens=pick("cache_read_input_tokens"),
        cache_write_tokens=pick("cache_creation_input_tokens"),
        requests=1,
        # Priced apart: 1-hour writes cost twice the input price, 5-minute ones 1.25 times.
        cache_write_1h_tokens=nested("cache_creation", "ephemeral_1h_input_tokens"),
        web_search_requests=nested("server_tool_use", "web_search_requests"),
    )


# --- what each step shows ----------------------------------------------------------------------


def started_event(block: dict[str, Any]) -> StepStarted:
    name = str(block.get("name", ""))
    kind = _STEP_KINDS.get(name, "tool")
    tool_input = block.get("input") or {}
    code = step_code(kind, tool_input)
    return StepStarted(
        step_id=str(block.get("id", "")), kind=kind, title=step_title(kind, tool_input), code=code
    )


def citations_of(block: dict[str, Any]) -> list[TurnEvent]:
    """A cited text block's web sources, once its text is complete (so markers follow the claim)."""
    out: dict[str, TurnEvent] = {}
    for cite in block.get("citations") or []:
        url = cite.get("url") if isinstance(cite, dict) else None
        if cite.get("type") == "web_search_result_location" and isinstance(url, str):
            out.setdefault(url, Citation(url, str(cite.get("title") or "") or _host(url)))
    return list(out.values())


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def step_code(kind: str, tool_input: dict[str, Any]) -> str:
    if kind == "web":
        return str(tool_input.get("query") or tool_input.get("url") or "")
    if kind == "bash":
        return str(tool_input.get("command", ""))
    if kind == "python":
        return str(tool_input.get("code", ""))
    if kind == "edit":
        command = tool_input.get("command")
        if command == "create":
            return str(tool_input.get("file_text", ""))
        if command == "str_replace":
            return f"- {tool_input.get('old_str', '')}\n+ {tool_input.get('new_str', '')}"
        return str(tool_input.get("path", ""))
    return json.dumps(tool_input, ensure_ascii=False)


def step_title(kind: str, tool_input: dict[str, Any]) -> str:
    """A short title saying what the step does: its leading comment when it has one."""
    if kind == "web":
        if "url" in tool_input:
            return _clip(f"Reading {_host(str(tool_input['url']))}", 80)
        return _clip(f"Searching the web: {tool_input.get('query', '')}", 80)
    if kind == "edit":
        path = str(tool_input.get("path", "")).rsplit("/", 1)[-1] or "a file"
        verb = {"create": "Write", "view": "Read", "str_replace": "Edit"}.get(
            str(tool_input.get("command")), "Edit"
        )
        return f"{verb} {path}"
    code = step_code(kind, tool_input)
    label = "Python" if kind == "python" else "Shell"
    for raw in code.splitlines():
        line = raw.strip()
        if not line or line.startswith("#!"):
            continue
        if line.startswith("#"):
            comment = line.lstrip("#").strip()
            if comment:
                return _clip(comment[0].upper() + comment[1:], 80)
            continue
        return _clip(f"{label}: {line}", 80)
    return f"{label} code"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finished_event(block: dict[str, Any]) -> StepFinished:
    """Turn a `*_tool_result` block into what the task card shows (stdout, stderr, files, status)."""
    step_id = str(block.get("tool_use_id", ""))
    content = block.get("content")
    if block.get("type") in ("web_search_tool_result", "web_fetch_tool_result"):
        return web_finished(step_id, content)
    if not isinstance(content, dict):
        return StepFinished(step_id=step_id, status=StepStatus.DONE)
    ctype = str(content.get("type", ""))
    if ctype.endswith("_error"):
        message = str(content.get("error_message") or content.get("error_code") or "error")
        return StepFinished(step_id=step_id, status=StepStatus.FAILED, error=message)
    if ctype.startswith("text_editor_code_execution"):
        shown = str(content.get("content", "")) if ctype.endswith("view_result") else ""
        if ctype.endswith("str_replace_result"):
            shown = "\n".join(content.get("lines") or [])
        return StepFinished(step_id=step_id, status=StepStatus.DONE, stdout=shown)
    return_code = content.get("return_code")
    stdout = str(content.get("stdout", "") or "")
    if not stdout and content.get("encrypted_stdout"):
        stdout = "(output encrypted)"
    stderr = str(content.get("stderr", "") or "")
    file_ids = tuple(
        str(item["file_id"])
        for item in content.get("content") or []
        if isinstance(item, dict) and "file_id" in item
    )
    failed = isinstance(return_code, int) and return_code != 0
    return StepFinished(
        step_id=step_id,
        status=StepStatus.FAILED if failed else StepStatus.DONE,
        stdout=stdout,
        stderr=stderr,
        return_code=return_code if isinstance(return_code, int) else None,
        file_ids=file_ids,
    )


def web_finished(step_id: str, content: Any) -> StepFinished:
    """A web step's card: the pages a search found, the page a fetch read, or why it failed."""
    if isinstance(content, list):
        found = [f"{r.get('title') or r.get('url')} ({r.get('url')})" for r in content if isinstance(r, dict)]
        return StepFinished(step_id, StepStatus.DONE, stdout="\n".join(found) or "No results.")
    if not isinstance(content, dict):
        return StepFinished(step_id, StepStatus.DONE)
    if str(content.get("type", "")).endswith("_error"):
        code = str(content.get("error_code") or "error")
        return StepFinished(step_id, StepStatus.FAILED, error=WEB_ERRORS.get(code, code))
    document = content.get("content")
    title = (document.get("title") if isinstance(document, dict) else None) or content.get("url")
    return StepFinished(step_id, StepStatus.DONE, stdout=f"Read {title} ({content.get('url')})")
