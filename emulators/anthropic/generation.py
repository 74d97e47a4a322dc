"""One response: the scripted model's steps, paced, executed and emitted (JSON or SSE).

A generation (one model turn) may span several responses, because a response ends early when the
turn pauses: ``stop_reason: "tool_use"`` for a direct client tool (``CallTool``) or for
programmatic calls made by a running Python cell (the cell really waits in the sandbox, reference
§4), or ``"pause_turn"`` (``PauseTurn`` or the server-side iteration limit, §3.4). ``ResponseRun``
builds one response: it resumes what the previous one paused, runs steps until the turn ends or
pauses again, and records the pause for the continuation (``continuations.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import ids, web_steps
from .caching import PromptUsage
from .containers import Container
from .continuations import Paused, Turn, content_key
from .faults import ResponseCut
from .messages import ParsedRequest
from .pacing import FAST_DELTA_CHARS, Pacer
from .response import delta_usage, message_skeleton, start_usage, usage_body
from .sandbox import CellDone, CellOutcome, CellPaused, run_bash, run_edit
from .script import (
    Bash,
    CallTool,
    Cite,
    Cut,
    Edit,
    PauseTurn,
    Python,
    Say,
    ScriptError,
    ServerStep,
    StepContext,
    StepOutput,
    Stop,
    WebFetch,
    WebSearch,
    resolve,
)
from .sse import Sink
from .tokens import count_json, count_text
from .web import DIRECT

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)
T = TypeVar("T")
# Programmatic tool_use blocks always carry this caller type, even for code_execution_20260521 (§4).
PTC_CALLER_TYPE = "code_execution_20260120"


class ResponseRun:
    """Builds one response from a generation's steps, pacing it per the latency profile."""

    def __init__(
        self,
        engine: Engine,
        turn: Turn,
        parsed: ParsedRequest,
        container: Container | None,
        sink: Sink,
        prompt: PromptUsage,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings()
        self.gen = turn.generation
        self.resume = turn.resume
        self.ctx = turn.generation.ctx
        self.parsed = parsed
        self.container = container
        self.sink = sink
        self.prompt = prompt
        self.pacer = Pacer(self.settings.latency, asyncio.get_running_loop().time())
        self.content: list[dict[str, Any]] = []
        self.output_tokens = 0
        self.server_steps = 0
        self.stop_reason: str | None = None
        self.stop_sequence: str | None = None
        self.stop_details: dict[str, Any] | None = None
        self.pause: Paused | None = None
        self.web_searches = 0
        self.web_fetches = 0
        room = self.settings.context_window - prompt.total_tokens
        self.budget = min(parsed.max_tokens, max(room, 0))
        self.budget_reason = "max_tokens" if parsed.max_tokens <= room else "model_context_window_exceeded"
        self.msg_id = ids.message_id()
        self.geo = str(parsed.body.get("inference_geo") or "global")

    # -- timing -----------------------------------------------------------------------------------
    async def _sleep_until(self, when: float) -> None:
        """Sleep until ``when`` (loop time); a stream gets a ``ping`` per ``ping_interval_s`` of
        silence, as the real API keeps idle streams alive."""
        while (left := when - self.pacer.now()) > 0:
            await self.sink.flush()
            if not self.sink.streaming or left <= self.settings.ping_interval_s:
                await asyncio.sleep(left)
                return
            await asyncio.sleep(self.settings.ping_interval_s)
            await self.sink.ping()

    async def _work(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await real work (code execution); keep a stream alive with pings meanwhile."""
        await self.sink.flush()
        task = asyncio.ensure_future(coro)
        try:
            if self.sink.streaming:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=self.settings.ping_interval_s)
                    if done:
                        break
                    await self.sink.ping()
            return await task
        except BaseException:
            task.cancel()
            raise
        finally:
            self.pacer.caught_up()

    async def paced(
        self, index: int, text: str, tokens: int, emit: Callable[[int, str], Awaitable[None]]
    ) -> None:
        """Send ``text`` as deltas as its tokens fall due (see pacing.py)."""
        tps = self.settings.latency.tokens_per_s
        base = self.pacer.next_due
        end = self.pacer.advance(tokens)
        if not self.sink.streaming:
            await self._sleep_until(end)
            return
        if tps is None or tokens == 0:
            await self._sleep_until(base)
            for i in range(0, len(text), FAST_DELTA_CHARS):
                await emit(index, text[i : i + FAST_DELTA_CHARS])
            return
        sent = 0
        chars_per_token = len(text) / tokens
        interval = self.settings.latency.delta_interval_s
        while sent < len(text):
            now = self.pacer.now()
            if now < base:
                await self._sleep_until(base)
                continue
            due = min(tokens, int((now - base) * tps) + 1)
            upto = len(text) if due == tokens else int(due * chars_per_token)
            if upto > sent:
                await emit(index, text[sent:upto])
                sent = upto
            if sent < len(text):
                await self._sleep_until(max(now + interval, base + due / tps))

    # -- emitting blocks --------------------------------------------------------------------------
    async def _text_block(self, text: str) -> None:
        tokens = count_text(text)
        index = len(self.content)
        self.content.append({"type": "text", "text": text})
        await self.sink.block_start(index, {"type": "text", "text": ""})
        await self.paced(index, text, tokens, self.sink.text_delta)
        await self.sink.block_stop(index)
        self.output_tokens += tokens

    async def _tool_block(self, block: dict[str, Any], tokens: int) -> None:
        index = len(self.content)
        self.content.append(block)
        start = {**block, "input": {}}
        if not self.settings.tool_start_input:
            del start["input"]  # the code-execution docs' "Streaming" example (README)
        await self.sink.block_start(index, start)
        if self.sink.streaming:
            await self.sink.input_delta(index, "")
        # A call without arguments streams only the empty fragment (anthropic-sdk-java#295, #382).
        raw = json.dumps(block["input"], ensure_ascii=False) if block["input"] else ""
        await self.paced(index, raw, tokens, self.sink.input_delta)
        await self.sink.block_stop(index)
        self.output_tokens += tokens

    async def result_block(self, block: dict[str, Any]) -> None:
        index = len(self.content)
        self.content.append(block)
        await self.sink.block_start(index, block)  # result blocks arrive whole (§7)
        await self.sink.block_stop(index)

    def _fits(self, tokens: int) -> bool:
        if self.output_tokens + tokens > self.budget:
            self.stop_reason = self.budget_reason
            return False
        return True

    # -- the run ----------------------------------------------------------------------------------
    async def execute(self) -> dict[str, Any]:
        skeleton = message_skeleton(self.msg_id, self.parsed.model)
        usage = usage_body(self.prompt, 0, self.geo)
        await self.sink.message_start({**skeleton, "usage": start_usage(usage)})
        if await self._resume():
            await self._steps()
        if self.stop_reason is None:
            self.stop_reason = "end_turn"
        await self._sleep_until(self.pacer.next_due)
        if self.pause is not None:
            self.pause.content_key = content_key(self.content)
            self.engine.paused.add(self.pause)
        usage = usage_body(self.prompt, self.output_tokens, self.geo, self.web_searches, self.web_fetches)
        message = {
            **skeleton,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "stop_details": self.stop_details,
            "usage": usage,
        }
        delta: dict[str, Any] = {
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "stop_details": self.stop_details,
        }
        extra: dict[str, Any] = {}
        if self.container is not None:
            self.engine.containers.touch(self.container)
            container_body: dict[str, Any] = {
                "id": self.container.id,
                "expires_at": ids.rfc3339(self.container.expires_at),
            }
            if self.parsed.container_skills is not None:
                # The skills loaded, with their resolved versions (SDK `ContainerSkill`).
                container_body["skills"] = [s.body() for s in self.parsed.loaded_skills]
            message["container"] = delta["container"] = container_body
        if self.parsed.body.get("context_management") is not None:
            # Accepted but not applied (README LIMITS): report that no edit was made.
            message["context_management"] = extra["context_management"] = {"applied_edits": []}
        await self.sink.message_delta(delta, delta_usage(usage), extra)
        await self.sink.message_stop()
        await self.sink.flush()
        return message

    async def _resume(self) -> bool:
        """Pick up where the paused response stopped. False if the response pauses again."""
        p = self.resume
        if p is None:
            return True
        if p.kind == "client_tool":
            results = self.parsed.last_tool_results
            self.ctx.tool_results.extend(results[t] for t in p.tool_use_ids if t in results)
            return True
        if p.kind == "pause_turn":
            if p.dangling is not None and p.server_tool_use_id is not None:
                self.server_steps += 1
                return await self._run_server_step(p.dangling, p.server_tool_use_id)
            return True
        assert self.parsed.pending_code_calls is not None and p.server_tool_use_id and p.output_dir
        results = self.parsed.pending_code_calls.results
        by_call = {call: results.get(tool_id, "") for tool_id, call in p.call_ids.items()}
        self.ctx.tool_results.extend(by_call.values())
        container = self.container
        assert container is not None
        async with container.lock:
            repl = container.repl
            if repl is None or not repl.alive or container.paused_cell != p.server_tool_use_id:
                outcome: CellOutcome = CellDone(
                    "", "The Python process was restarted; the paused cell was lost.\n", 137
                )
            else:
                outcome = await self._work(repl.resume(p.server_tool_use_id, by_call))
        return await self._cell_outcome(outcome, p.server_tool_use_id, p.output_dir)

    async def _steps(self) -> None:
        steps = self.gen.steps
        while steps:
            step = steps[0]
            if isinstance(step, Bash | Python | Edit | WebSearch | WebFetch):
                if self.server_steps >= self.settings.server_steps_per_response:
                    # The server-side sampling loop's iteration limit (§3.4).
                    self.stop_reason = "pause_turn"
                    self.pause = Paused(self.gen, "pause_turn", self._cid())
                    return
                steps.popleft()
                if not await self._server_step(step):
                    return
            elif isinstance(step, Say):
                steps.popleft()
                if not await self._say(resolve(step.text, self.ctx)):
                    steps.clear()
                    return
            elif isinstance(step, Cite):
                steps.popleft()
                await web_steps.cite(self, resolve(step.text, self.ctx), resolve(step.url, self.ctx))
            elif isinstance(step, CallTool):
                await self._call_tools()
                return
            elif isinstance(step, PauseTurn):
                steps.popleft()
                await self._pause_turn(step)
                return
            elif isinstance(step, Cut):
                steps.popleft()
                if step.fired < step.times:
                    step.fired += 1
                    steps.clear()
                    await self.sink.flush()  # what ran before the cut reaches the client
                    raise ResponseCut(step.mode, step.status)
            elif isinstance(step, Stop):
                steps.clear()
                self.stop_reason = step.reason
                if step.reason == "refusal":
                    self.stop_details = {
                        "type": "refusal",
                        "category": step.category,
                        "explanation": step.explanation,
                    }
                return
            else:
                steps.popleft()
                await self._sleep_until(max(self.pacer.next_due, self.pacer.now()) + step.seconds)
                self.pacer.caught_up()

    async def _say(self, text: str) -> bool:
        cut: tuple[int, str] | None = None
        for seq in self.parsed.stop_sequences:
            at = text.find(seq)
            if at != -1 and (cut is None or at < cut[0]):
                cut = (at, seq)
        if cut is not None:
            text = text[: cut[0]]
        room = self.budget - self.output_tokens
        truncated = count_text(text) > room
        if truncated:
            text = text[: max(room, 0) * 4]
        if text:
            await self._text_block(text)
        if truncated:
            self.stop_reason = self.budget_reason
            return False
        if cut is not None:
            self.stop_reason, self.stop_sequence = "stop_sequence", cut[1]
            return False
        return True

    async def _call_tools(self) -> None:
        """Consecutive ``CallTool`` steps are one parallel tool use."""
        tool_ids: list[str] = []
        while self.gen.steps and isinstance(self.gen.steps[0], CallTool):
            step = self.gen.steps.popleft()
            assert isinstance(step, CallTool)
            tool_input = dict(step.input(self.ctx) if callable(step.input) else step.input)
            tokens = count_json(tool_input)
            if not self._fits(tokens):
                self.gen.steps.clear()
                return
            tid = ids.tool_use_id()
            block = {"type": "tool_use", "id": tid, "name": step.name, "input": tool_input}
            block["caller"] = {"type": "direct"}
            await self._tool_block(block, tokens)
            tool_ids.append(tid)
        self.stop_reason = "tool_use"
        self.pause = Paused(self.gen, "client_tool", self._cid(), tool_use_ids=tuple(tool_ids))

    async def _pause_turn(self, step: PauseTurn) -> None:
        self.stop_reason = "pause_turn"
        self.pause = Paused(self.gen, "pause_turn", self._cid())
        if step.dangling is not None:
            name, tool_input = _server_call(step.dangling, self.ctx)
            srv = ids.server_tool_use_id()
            await self._tool_block(_server_block(srv, name, tool_input), count_json(tool_input))
            self.pause.dangling = _frozen(step.dangling, tool_input)
            self.pause.server_tool_use_id = srv

    def _cid(self) -> str | None:
        return self.container.id if self.container else None

    async def _server_step(self, step: ServerStep) -> bool:
        name, tool_input = _server_call(step, self.ctx)
        tokens = count_json(tool_input)
        if not self._fits(tokens):
            self.gen.steps.clear()
            return False
        srv = ids.server_tool_use_id()
        await self._tool_block(_server_block(srv, name, tool_input), tokens)
        self.server_steps += 1
        return await self._run_server_step(_frozen(step, tool_input), srv)

    async def _run_server_step(self, step: ServerStep, srv: str) -> bool:
        if isinstance(step, WebSearch):
            await web_steps.search(self, str(step.query), srv)
            return True
        if isinstance(step, WebFetch):
            await web_steps.fetch(self, str(step.url), srv)
            return True
        container = self.container
        if container is None:  # pragma: no cover - _check_steps guarantees a code execution tool
            raise ScriptError("server tool step without a container")
        if isinstance(step, Bash):
            await self._bash(container, str(step.command), srv)
            return True
        if isinstance(step, Edit):
            await container.ensure_dirs()
            result = await self._work(asyncio.to_thread(run_edit, str(container.workdir), step.tool_input()))
            await self.result_block(
                {"type": "text_editor_code_execution_tool_result", "tool_use_id": srv, "content": result}
            )
            self.ctx.outputs.append(
                StepOutput(
                    "edit",
                    error_code=result.get("error_code"),
                    content=result.get("content", "") if result["type"].endswith("view_result") else "",
                    stderr=result.get("error_message", ""),
                    return_code=1 if "error_code" in result else 0,
                )
            )
            return True
        return await self._python(container, step, srv)

    async def _bash(self, container: Container, command: str, srv: str) -> None:
        await container.ensure_dirs()
        out_dir = container.next_output_dir()
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        outcome = await self._work(
            run_bash(
                command,
                cwd=str(container.workdir),
                env=container.env(out_dir),
                timeout=self.settings.bash_timeout_s,
            )
        )
        file_ids = await self._collect(out_dir, keep=not outcome.timed_out)
        content: dict[str, Any]
        if outcome.timed_out:
            content = {
                "type": "bash_code_execution_tool_result_error",
                "error_code": "execution_time_exceeded",
            }
        else:
            content = {
                "type": "bash_code_execution_result",
                "stdout": outcome.stdout,
                "stderr": outcome.stderr,
                "return_code": outcome.return_code,
                "content": [{"type": "bash_code_execution_output", "file_id": f} for f in file_ids],
            }
        await self.result_block(
            {"type": "bash_code_execution_tool_result", "tool_use_id": srv, "content": content}
        )
        self.ctx.outputs.append(
            StepOutput(
                "bash",
                outcome.stdout,
                outcome.stderr,
                outcome.return_code,
                tuple(file_ids),
                "execution_time_exceeded" if outcome.timed_out else None,
            )
        )

    async def _python(self, container: Container, step: Python, srv: str) -> bool:
        settings = self.settings
        async with container.lock:
            if container.paused_cell is not None:
                # A new cell replaces a cell still waiting for tool results (README LIMITS).
                stale = self.engine.paused.by_cell(container.id, container.paused_cell)
                if stale is not None:
                    self.engine.paused.remove(stale)
                container.paused_cell = None
            repl = await self.engine.containers.start_repl(container)
            out_dir = container.next_output_dir()
            outcome = await self._work(
                repl.execute(
                    cell=srv,
                    code=str(step.code),
                    # Recorded tracebacks name cells /tmp/<srvtoolu id>/cell.py (reference §4).
                    filename=f"/tmp/{srv}/cell.py",
                    tools=list(self.parsed.ptc_tools),
                    output_dir=str(out_dir),
                    fresh=not self.parsed.ptc_tools and not settings.persist_repl_without_ptc,
                    timeout=settings.cell_timeout_s,
                    ptc_timeout=settings.ptc_timeout_s,
                )
            )
        return await self._cell_outcome(outcome, srv, out_dir)

    async def _cell_outcome(self, outcome: CellOutcome, srv: str, out_dir: Path) -> bool:
        container = self.container
        assert container is not None
        if isinstance(outcome, CellPaused):
            call_ids: dict[str, str] = {}
            for call in outcome.calls:
                tid = ids.tool_use_id()
                call_ids[tid] = call.call_id
                block = {
                    "type": "tool_use",
                    "id": tid,
                    "name": call.name,
                    "input": call.input,
                    "caller": {"type": PTC_CALLER_TYPE, "tool_id": srv},
                }
                await self._tool_block(block, 0)  # written by code, not sampled: no output tokens
            container.paused_cell = srv
            self.stop_reason = "tool_use"
            self.pause = Paused(
                self.gen,
                "code_calls",
                container.id,
                tool_use_ids=tuple(call_ids),
                call_ids=call_ids,
                server_tool_use_id=srv,
                output_dir=out_dir,
            )
            return False
        container.paused_cell = None
        file_ids = await self._collect(out_dir)
        await self.result_block(
            {
                "type": "code_execution_tool_result",
                "tool_use_id": srv,
                "content": {
                    "type": "code_execution_result",
                    "stdout": outcome.stdout,
                    "stderr": outcome.stderr,
                    "return_code": outcome.return_code,
                    "content": [{"type": "code_execution_output", "file_id": f} for f in file_ids],
                    # Present (null) on recorded PTC cell results, undeclared by the SDK (§3.1).
                    "abort_reason": None,
                },
            }
        )
        self.ctx.outputs.append(
            StepOutput(
                "python",
                outcome.stdout,
                outcome.stderr,
                outcome.return_code,
                tuple(file_ids),
                None,
            )
        )
        return True

    async def _collect(self, out_dir: Path, keep: bool = True) -> list[str]:
        """Top-level regular files of $OUTPUT_DIR become downloadable Files API entries (§3.1);
        subdirectories and everything else in the container are not returned."""

        def listing() -> list[Path]:
            if not out_dir.is_dir():
                return []
            return sorted(p for p in out_dir.iterdir() if p.is_file() and not p.is_symlink())

        found = await asyncio.to_thread(listing) if keep else []
        file_ids = [(await self.engine.files.register_generated(p)).id for p in found]
        await asyncio.to_thread(_rmtree, out_dir)
        return file_ids


def _server_block(srv: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    block = {"type": "server_tool_use", "id": srv, "name": name, "input": tool_input}
    if name in ("web_search", "web_fetch"):
        block["caller"] = DIRECT  # web tool uses carry their caller (SDK; reference §3.1)
    return block


def _server_call(step: ServerStep, ctx: StepContext) -> tuple[str, dict[str, Any]]:
    if isinstance(step, WebSearch):
        return "web_search", {"query": resolve(step.query, ctx)}
    if isinstance(step, WebFetch):
        return "web_fetch", {"url": resolve(step.url, ctx)}
    if isinstance(step, Bash):
        return "bash_code_execution", {"command": resolve(step.command, ctx)}
    if isinstance(step, Python):
        return "code_execution", {"code": resolve(step.code, ctx)}
    return "text_editor_code_execution", step.tool_input()


def _frozen(step: ServerStep, tool_input: dict[str, Any]) -> ServerStep:
    """The step with its callable arguments resolved to what was actually sent."""
    if isinstance(step, WebSearch):
        return WebSearch(tool_input["query"])
    if isinstance(step, WebFetch):
        return WebFetch(tool_input["url"])
    if isinstance(step, Bash):
        return Bash(tool_input["command"])
    if isinstance(step, Python):
        return Python(tool_input["code"])
    return step


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
