"""The engine behind ``/v1/messages``: finds the generation a request continues (or asks the
scripted model for a new one) and runs it into a response (``generation.ResponseRun``)."""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .caching import PromptUsage
from .containers import Container, ContainerRegistry
from .continuations import Generation, Paused, PausedStore, Turn, content_key
from .errors import ApiError, invalid_request
from .files_api import FileStore
from .generation import ResponseRun
from .messages import ParsedRequest
from .pacing import Latency
from .script import (
    Bash,
    CallTool,
    Cite,
    Cut,
    Delay,
    Edit,
    ModelFn,
    ModelRequest,
    PauseTurn,
    Python,
    Say,
    ScriptError,
    Step,
    StepContext,
    Stop,
    WebFetch,
    WebSearch,
)
from .sse import Sink
from .vocabulary import PTC_VERSIONS
from .web import FakeWeb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeSettings:
    latency: Latency
    server_steps_per_response: int
    bash_timeout_s: float
    cell_timeout_s: float
    ptc_timeout_s: float
    ping_interval_s: float
    context_window: int
    persist_repl_without_ptc: bool
    tool_start_input: bool


class Engine:
    def __init__(
        self,
        *,
        files: FileStore,
        containers: ContainerRegistry,
        settings: Callable[[], RuntimeSettings],
        model: Callable[[], ModelFn],
        web: FakeWeb,
    ) -> None:
        self.web = web
        self.files = files
        self.containers = containers
        self.settings = settings
        self.model = model
        self.paused = PausedStore()

    async def prepare(
        self, parsed: ParsedRequest, container: Container | None, input_files: Sequence[str]
    ) -> Turn:
        """Find the paused generation this request continues, or ask the model for a new one.
        Raises ``ApiError`` before any byte is sent, so these are plain HTTP errors."""
        request = ModelRequest(
            body=parsed.body,
            last_user_text=parsed.last_user_text,
            system_text=parsed.system_text,
            tool_names=tuple(parsed.tool_names),
            container_id=container.id if container else None,
            user_turns=parsed.user_turns,
            input_files=tuple(input_files),
            code_execution_type=parsed.code_tool_type,
            ptc_tools=tuple(parsed.ptc_tools),
        )
        turn = self._continuation(parsed, container)
        if turn is None:
            try:
                result = self.model()(request)
                steps = await result if inspect.isawaitable(result) else result
            except ScriptError as exc:
                raise _script_failure(exc) from exc
            ctx = StepContext(request=request, tool_results=list(parsed.last_tool_results.values()))
            turn = Turn(Generation(deque(steps), ctx), None)
        else:
            turn.generation.ctx.request = request
        try:
            _check_steps(turn.generation.steps, parsed, turn.resume)
        except ScriptError as exc:
            raise _script_failure(exc) from exc
        return turn

    def _continuation(self, parsed: ParsedRequest, container: Container | None) -> Turn | None:
        msgs = parsed.messages
        pending = parsed.pending_code_calls
        if pending is not None:
            n = len(msgs) - 2
            p = self.paused.by_cell(container.id, pending.server_tool_use_id) if container else None
            if p is None:
                raise invalid_request(
                    f"messages.{n}: `code_execution` tool use with id `{pending.server_tool_use_id}` was found "
                    "without a corresponding `code_execution_tool_result` block"
                )
            if p.content_key != content_key(msgs[n]["content"]):
                # Emulator strictness: the paused turn must come back exactly as it was sent.
                raise invalid_request(
                    f"messages.{n}: the assistant turn paused on code execution must be sent back unchanged"
                )
            self.paused.remove(p)
            return Turn(p.generation, p)
        cid = container.id if container else None
        if msgs[-1]["role"] == "user" and parsed.last_tool_results and len(msgs) >= 2:
            p = self.paused.by_content(content_key(msgs[-2]["content"]), "client_tool", cid)
            if p is not None and set(p.tool_use_ids) <= set(parsed.last_tool_results):
                self.paused.remove(p)
                return Turn(p.generation, p)
        if msgs[-1]["role"] == "assistant":
            p = self.paused.by_content(content_key(msgs[-1]["content"]), "pause_turn", cid)
            if p is not None:
                self.paused.remove(p)
                return Turn(p.generation, p)
        return None

    async def run(
        self,
        turn: Turn,
        *,
        parsed: ParsedRequest,
        container: Container | None,
        sink: Sink,
        prompt: PromptUsage,
    ) -> dict[str, Any]:
        return await ResponseRun(self, turn, parsed, container, sink, prompt).execute()


def _script_failure(exc: Exception) -> ApiError:
    log.error("anthropic emulator: script error: %s", exc)
    return ApiError(500, f"Internal server error (emulator script error: {exc})")


def _check_steps(steps: Sequence[Step], parsed: ParsedRequest, resume: Paused | None) -> None:
    custom = {t["name"] for t in parsed.tools if t.get("type") in (None, "custom")}
    all_steps: list[Any] = list(steps)
    for step in steps:
        if isinstance(step, PauseTurn) and step.dangling is not None:
            all_steps.append(step.dangling)
    if resume is not None and resume.dangling is not None:
        all_steps.append(resume.dangling)
    for step in all_steps:
        if not isinstance(
            step,
            Say
            | Bash
            | Python
            | Edit
            | CallTool
            | PauseTurn
            | Stop
            | Delay
            | Cut
            | WebSearch
            | WebFetch
            | Cite,
        ):
            raise ScriptError(f"not a step: {step!r}")
        if isinstance(step, WebSearch | Cite) and parsed.web_search is None:
            raise ScriptError(f"{type(step).__name__} step but the request declares no web_search tool")
        if isinstance(step, WebFetch) and parsed.web_fetch is None:
            raise ScriptError("WebFetch step but the request declares no web_fetch tool")
        if isinstance(step, Bash | Python | Edit) and parsed.code_tool_type is None:
            raise ScriptError(f"{type(step).__name__} step but the request declares no code execution tool")
        if isinstance(step, Python) and parsed.code_tool_type not in PTC_VERSIONS:
            raise ScriptError(
                f"Python steps need code_execution_20260120 or later (request has {parsed.code_tool_type}); "
                "the real API runs Python through bash there: use Bash"
            )
        if isinstance(step, CallTool) and step.name not in custom:
            raise ScriptError(f"CallTool({step.name!r}) but the request declares no such client tool")
