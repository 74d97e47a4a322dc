"""The scripted "model": what Claude says and which tools it uses, supplied by the test.

``emu.model`` is any callable ``(ModelRequest) -> Sequence[Step]`` (or an awaitable of one). The
emulator calls it once per FRESH generation. A generation that pauses (client ``tool_use``,
programmatic tool call, ``pause_turn``) keeps its remaining steps inside the emulator and is resumed
by the matching continuation request without calling the model again — the same contract as the real
API, where the continuation carries the paused turn back.

Steps run in order; the response is built from them:

* ``Say(text)`` — a text block (streamed as ``text_delta``s);
* ``Bash(command)`` / ``Python(code)`` / ``Edit(command, path, ...)`` — a ``server_tool_use`` that
  really runs in the container, followed by its result block;
* ``WebSearch(query)`` / ``WebFetch(url)`` — a ``web_search`` / ``web_fetch`` server tool use answered
  from ``emu.web`` (web.py), followed by its result block;
* ``Cite(text, url)`` — a text block citing a page a search returned (``web_search_result_location``);
* ``CallTool(name, input)`` — a direct client ``tool_use``; the response stops with ``tool_use``;
* ``PauseTurn()`` — end the response with ``pause_turn``;
* ``Stop(reason)`` — end the response with another stop reason;
* ``Delay(seconds)`` — the model "thinks" for a while;
* ``Cut(mode)`` — the response breaks off here (a fault, not something the model does).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Bash",
    "ByText",
    "CallTool",
    "Cite",
    "Cut",
    "Delay",
    "Edit",
    "ModelFn",
    "ModelRequest",
    "PauseTurn",
    "Python",
    "Say",
    "Script",
    "ScriptError",
    "Step",
    "StepContext",
    "StepOutput",
    "Stop",
    "WebFetch",
    "WebSearch",
    "dev_model",
    "echo_model",
]


class ScriptError(Exception):
    """The script asked for something the request does not allow (or ran out of turns).

    The emulator answers such a request with a 500 ``api_error`` and logs the reason: it is a bug in
    the test, not something the real API could do.
    """


@dataclass(frozen=True)
class ModelRequest:
    """What the scripted model sees of one request."""

    body: Mapping[str, Any]
    last_user_text: str
    """Text of the last user message that is not only ``tool_result`` blocks."""
    system_text: str
    tool_names: tuple[str, ...]
    """Names of every tool in the request (``code_execution`` for the code execution tool)."""
    container_id: str | None
    user_turns: int
    """Number of user messages that are not only ``tool_result`` blocks."""
    input_files: tuple[str, ...]
    """Filenames materialised in ``$INPUT_DIR`` by this request's ``container_upload`` blocks."""
    code_execution_type: str | None = None
    """The code execution tool version declared (e.g. ``code_execution_20260120``), if any."""
    ptc_tools: tuple[str, ...] = ()
    """Tools callable from Python cells (``allowed_callers`` names a code execution version)."""


@dataclass(frozen=True)
class StepOutput:
    """What one server tool step produced, visible to later steps through ``ctx.outputs``."""

    tool: Literal["bash", "python", "edit", "web_search", "web_fetch"]
    stdout: str = ""
    stderr: str = ""
    return_code: int = 0
    file_ids: tuple[str, ...] = ()
    error_code: str | None = None
    """Set when the tool could not run (``execution_time_exceeded``, ``file_not_found`` ...)."""
    content: str = ""
    """For ``Edit("view", ...)``: the file content returned; for ``WebFetch``: the page's text."""
    urls: tuple[str, ...] = ()
    """For ``WebSearch``: the result URLs, best first."""


@dataclass
class StepContext:
    """Passed to callables in steps (``Say(lambda ctx: ...)``)."""

    request: ModelRequest
    """The request being answered (the latest continuation, for a resumed generation)."""
    tool_results: list[str] = field(default_factory=list)
    """Text of every ``tool_result`` received so far in this generation, in order."""
    outputs: list[StepOutput] = field(default_factory=list)

    @property
    def last_output(self) -> StepOutput | None:
        return self.outputs[-1] if self.outputs else None


TextArg = str | Callable[[StepContext], str]


def resolve(value: TextArg, ctx: StepContext) -> str:
    return value(ctx) if callable(value) else value


@dataclass(frozen=True)
class Say:
    text: TextArg


@dataclass(frozen=True)
class Bash:
    """``bash_code_execution``: ``bash -c command`` in the container's working directory."""

    command: TextArg


@dataclass(frozen=True)
class Python:
    """``code_execution`` cell: runs in the container's persistent interpreter (needs 20260120+)."""

    code: TextArg


EditCommand = Literal["create", "view", "str_replace"]


@dataclass(frozen=True, init=False)
class Edit:
    """``text_editor_code_execution``: ``Edit("create", "notes.md", file_text="...")``,
    ``Edit("view", path, view_range=[1, 5])``, ``Edit("str_replace", path, old_str=..., new_str=...)``.
    Relative paths resolve against the container's working directory."""

    command: EditCommand
    path: str
    args: Mapping[str, Any]

    def __init__(self, command: EditCommand, path: str, **kwargs: Any) -> None:
        if command not in ("create", "view", "str_replace"):
            raise ValueError(f"unsupported text editor command {command!r}")
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "args", dict(kwargs))

    def tool_input(self) -> dict[str, Any]:
        return {"command": self.command, "path": self.path, **self.args}


@dataclass(frozen=True)
class CallTool:
    """A direct client ``tool_use`` (``caller: {"type": "direct"}``); the response stops with
    ``tool_use`` and the generation resumes when the ``tool_result`` comes back."""

    name: str
    input: Mapping[str, Any] | Callable[[StepContext], Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class WebSearch:
    """``web_search`` with this query, answered from ``emu.web`` under the tool's domain filters."""

    query: TextArg


@dataclass(frozen=True)
class WebFetch:
    """``web_fetch`` of this URL (it must have appeared in the conversation, as the API requires)."""

    url: TextArg


@dataclass(frozen=True)
class Cite:
    """A text block citing ``url`` (a page an earlier search returned): ``web_search_result_location``
    citations, streamed as ``citations_delta`` before the text."""

    text: TextArg
    url: TextArg


ServerStep = Bash | Python | Edit | WebSearch | WebFetch


@dataclass(frozen=True)
class PauseTurn:
    """End the response with ``pause_turn``. With ``dangling``, the response ends with that step's
    ``server_tool_use`` and no result (reference §3.4); the continuation runs it and starts with its
    result block."""

    dangling: ServerStep | None = None


StopReason = Literal["end_turn", "max_tokens", "refusal", "model_context_window_exceeded"]


@dataclass(frozen=True)
class Stop:
    reason: StopReason = "end_turn"
    category: str | None = None
    """Refusals only: ``stop_details.category`` (``cyber``, ``bio``, ``general_harms`` ...)."""
    explanation: str | None = None


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(eq=False)
class Cut:
    """The response breaks off at this point, after the steps before it really ran (their code
    changed the sandbox): a stream ends with ``event: error`` of ``status``'s type (``mode="error"``)
    or its connection is dropped (``"reset"``); a JSON response gets that error, or the drop. Steps
    after it are lost with the response (a new request is a fresh generation). It fires ``times``
    times; a model that returns the same object again gets the steps around it unbroken after that
    (as the real model would do the same work again for the same request)."""

    mode: Literal["error", "reset"] = "reset"
    status: int = 500
    times: int = 1
    fired: int = 0


Step = Say | Bash | Python | Edit | CallTool | PauseTurn | Stop | Delay | Cut | WebSearch | WebFetch | Cite
ModelFn = Callable[[ModelRequest], Sequence[Step] | Awaitable[Sequence[Step]]]


class Script:
    """Turns popped in order, one per fresh generation (FIFO).

    ``default`` answers once the turns are used up (steps, or a model function); without it an
    exhausted script is a ``ScriptError``. ``seen`` keeps every request the script answered.
    """

    def __init__(
        self,
        turns: Iterable[Sequence[Step]],
        *,
        default: Sequence[Step] | ModelFn | None = None,
    ) -> None:
        self._turns: deque[Sequence[Step]] = deque(list(t) for t in turns)
        self._default = default
        self.seen: list[ModelRequest] = []

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def add(self, *turns: Sequence[Step]) -> None:
        self._turns.extend(list(t) for t in turns)

    def __call__(self, request: ModelRequest) -> Sequence[Step] | Awaitable[Sequence[Step]]:
        self.seen.append(request)
        if self._turns:
            return self._turns.popleft()
        if self._default is None:
            raise ScriptError(f"script exhausted (request for {request.last_user_text[:60]!r})")
        if callable(self._default):
            return self._default(request)
        return list(self._default)


class ByText:
    """Pick the steps by a case-insensitive substring of ``last_user_text`` (first match wins)."""

    def __init__(
        self,
        choices: Mapping[str, Sequence[Step] | ModelFn],
        *,
        default: Sequence[Step] | ModelFn | None = None,
    ) -> None:
        self._choices = [(k.lower(), v) for k, v in choices.items()]
        self._default = default

    def __call__(self, request: ModelRequest) -> Sequence[Step] | Awaitable[Sequence[Step]]:
        text = request.last_user_text.lower()
        for key, choice in self._choices:
            if key in text:
                return choice(request) if callable(choice) else list(choice)
        if self._default is None:
            raise ScriptError(f"no ByText choice matches {request.last_user_text[:80]!r}")
        return self._default(request) if callable(self._default) else list(self._default)


def echo_model(request: ModelRequest) -> Sequence[Step]:
    """The default model: repeats the user's text."""
    return [Say(f"You said: {request.last_user_text}" if request.last_user_text else "Hello!")]


_FENCE = re.compile(r"```(?:python|py)[^\n]*\n(.*?)```", re.DOTALL)


def dev_model(request: ModelRequest) -> Sequence[Step]:
    """The CLI's model: answers the text, and runs every fenced ```python block it contains.

    With ``code_execution_20260120``+ each block is a Python cell (state persists in the container);
    with ``code_execution_20250825`` it runs through bash as ``python3``.
    """
    blocks = [b.strip("\n") for b in _FENCE.findall(request.last_user_text)]
    if not blocks:
        return echo_model(request)
    if request.code_execution_type is None:
        return [Say("I would run that code, but the request does not declare the code execution tool.")]
    steps: list[Step] = [Say(f"Running {len(blocks)} code block{'s' if len(blocks) > 1 else ''}.")]
    for code in blocks:
        if request.code_execution_type == "code_execution_20250825":
            steps.append(Bash(f"python3 - <<'EMULATOR_EOF'\n{code}\nEMULATOR_EOF"))
        else:
            steps.append(Python(code))
    steps.append(Say(_report))
    return steps


def _report(ctx: StepContext) -> str:
    parts = []
    for i, out in enumerate(ctx.outputs[-len(ctx.outputs) :], 1):
        lines = [f"Block {i}: exit code {out.return_code}"]
        if out.stdout:
            lines.append(f"stdout:\n```\n{out.stdout.rstrip()}\n```")
        if out.stderr:
            lines.append(f"stderr:\n```\n{out.stderr.rstrip()}\n```")
        if out.file_ids:
            lines.append("files: " + ", ".join(out.file_ids))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) or "No output."
