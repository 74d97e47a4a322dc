"""One turn of a thread's conversation with Claude: the request loop.

A turn is one new user message and as many model responses as it takes: `pause_turn` is continued
with the content unchanged and the same container; `tool_use` (from sandbox code or direct) runs our
tool and answers with a user message of tool results only, same container (reference §3.4, §4). The
turn's messages are saved after every response, so a restart loses nothing that was answered.

Two endings are not answers. A response whose stream broke after it started is kept as far as it
arrived (repaired like a stopped turn) and the turn goes on with a new request that tells Claude
so: sending the same request again would run its code a second time in the persistent REPL. A
refusal (`stop_reason: "refusal"`) is withdrawn: its partial text is taken back from the thread
and the refused turn leaves the history, as the docs require ("you must reset the conversation
context by removing or updating the turn that was refused", platform docs "Handle streaming
refusals").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from bot import metrics
from bot.claude.api import ClaudeApi, ResponseCutOff
from bot.claude.errors import ClaudeError, ContainerGone, ContainerInDoubt
from bot.claude.request import (
    Block,
    Message,
    build_request,
    estimate_tokens,
    merge_consecutive,
    repair_history,
)
from bot.claude.stream import ModelResponse
from bot.model import (
    Notice,
    ResponseInterrupted,
    SkillRef,
    StepFinished,
    StepStatus,
    TextDelta,
    TextWithdrawn,
    ToolOutput,
    TurnEvent,
    TurnOutcome,
    TurnResult,
    Usage,
)

log = logging.getLogger(__name__)

SANDBOX_RESET_NOTE = (
    "Note: the sandbox was replaced (the previous one had expired), so Python variables and the files "
    "you wrote before are gone. The files people attached in this thread were attached again: list "
    "$INPUT_DIR to find them."
)
CUT_OFF_NOTE = (
    "Note from the Slack bot: your previous response was cut off by a connection failure after the "
    "part above. Its last step may have run in the sandbox even though no result is shown: check the "
    "state (variables, files) before running anything again, then go on."
)
REFUSED_NOTE = (
    "(Note from the Slack bot: a request in this thread was declined and removed from the conversation.)"
)
KEEPS_BREAKING = (
    "The connection to Claude kept breaking in the middle of answers, so I stopped; what arrived is kept. "
    "Send another message to go on."
)


class TurnHooks(Protocol):
    """What the engine provides to a turn: output, persistence, tools, and files for a reset."""

    async def emit(self, events: list[TurnEvent]) -> None: ...

    async def save(
        self,
        turn_messages: list[Message],
        *,
        container_id: str | None,
        container_expires_at: str | None,
        forget_container: bool,
        stop_reason: str | None,
    ) -> None: ...

    async def run_tool(self, name: str, tool_input: dict[str, Any]) -> ToolOutput: ...

    def count(self, usage: Usage) -> None:
        """Tokens of one response, counted as it arrives (a turn that ends early is billed too)."""

    async def reattach_blocks(self) -> list[Block]: ...

    async def before_request(self, prompt_tokens: int, max_tokens: int) -> str | None:
        """Whether the next request may be sent (budgets): None, or the line that ends the turn
        before it. `prompt_tokens`: its estimated prompt size."""

    async def record_outputs(self, file_ids: list[str]) -> None:
        """Files the sandbox made, recorded as soon as they appear (so they are deleted with the
        thread's files whatever becomes of the turn)."""


@dataclass
class TurnInput:
    system: str
    tools: list[Block]
    history: list[Message]
    user_content: list[Block]
    container_id: str | None
    deadline: float | None = None  # the turn's end, on the event loop's clock
    # A turn resumed after a restart: its responses (and tool results) saved after `user_content`, and
    # why the last of them stopped. The loop goes on from there rather than asking again.
    resumed: list[Message] = field(default_factory=list)
    resumed_stop: str | None = None
    # The first request's estimated prompt tokens (0: not estimated); later ones are estimated from
    # the usage of the response before them.
    prompt_estimate: int = 0
    # Agent Skills loaded into the container with every request of the turn (bot/claude/options.py).
    skills: tuple[SkillRef, ...] = ()
    model: str | None = None  # the channel's model (`/claude config`); None: the deployment's


class _Output:
    """The way from the API to the engine: counts the answer text of the response under way (what
    a refusal takes back) and records produced files as their results arrive. `pending` runs once
    the response under way has shown it was answered (its first content, or its end)."""

    def __init__(self, hooks: TurnHooks) -> None:
        self.hooks = hooks
        self.response_chars = 0
        self.pending: Callable[[], Awaitable[None]] | None = None

    async def answered(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending()

    async def emit(self, events: list[TurnEvent]) -> None:
        if any(not isinstance(e, Notice) for e in events):  # a Notice is the API client's own
            await self.answered()
        file_ids = [f for e in events if isinstance(e, StepFinished) for f in e.file_ids]
        self.response_chars += sum(len(e.text) for e in events if isinstance(e, TextDelta))
        if file_ids:
            await self.hooks.record_outputs(file_ids)
        await self.hooks.emit(events)


@dataclass
class _State:
    container_id: str | None
    messages: list[Message]  # this turn's messages (the new user message first)
    texts: list[str] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)


class Conversation:
    def __init__(self, api: ClaudeApi, *, model: str, max_tokens: int, max_continuations: int) -> None:
        self.api = api
        self.model = model
        self.max_tokens = max_tokens
        self.max_continuations = max_continuations

    async def run(self, turn: TurnInput, hooks: TurnHooks) -> TurnResult:
        state = _State(
            container_id=turn.container_id,
            messages=[{"role": "user", "content": turn.user_content}, *turn.resumed],
        )
        out = _Output(hooks)
        reset_done = False
        continuations = 0
        cut_offs = 0  # responses in a row that broke off
        in_doubt: ContainerInDoubt | None = None
        previous_len = 0  # messages in this turn's previous request
        prompt_tokens = turn.prompt_estimate  # the last request's prompt, as reported, once known
        if turn.resumed:
            done = await self._resume(state, turn, hooks)
            if done is not None:
                return done
        while True:
            messages = [*turn.history, *state.messages]
            body = build_request(
                model=turn.model or self.model,
                max_tokens=self.max_tokens,
                system=turn.system,
                tools=turn.tools,
                messages=messages,
                history_len=len(turn.history),
                container_id=state.container_id,
                previous_len=previous_len,
                skills=turn.skills,
            )
            estimate = prompt_tokens + (estimate_tokens(messages[previous_len:]) if previous_len else 0)
            previous_len = len(messages)
            blocked = await hooks.before_request(estimate, self.max_tokens)
            if blocked is not None:
                return self._result(state, TurnOutcome.LIMIT, blocked)
            out.response_chars = 0
            try:
                response = await self.api.stream(body, out.emit, deadline=turn.deadline)
            except ResponseCutOff as cut:
                await out.answered()
                cut_offs += 1
                await self._cut_off(state, cut, hooks)
                if cut_offs > self.api.max_retries:
                    raise ClaudeError(KEEPS_BREAKING, detail=str(cut)) from cut
                continuations += 1
                if continuations > self.max_continuations:
                    return self._over_limit(state)
                continue
            except ContainerGone as exc:
                if reset_done:
                    raise ClaudeError(
                        "The sandbox could not be started again; try again in a minute.", detail=str(exc)
                    ) from exc
                reset_done = True
                log.warning("container %s rejected (%s); starting a new one", state.container_id, exc)
                await self._reset(state, turn, hooks)
                await self._announce_reset(hooks)
                continue
            except ContainerInDoubt as doubt:
                if reset_done:
                    raise
                # Expired, or an outage? The next request goes without the container: if it is
                # answered, the container was gone; if it fails too, nothing of the attempt was
                # saved or shown, and the thread keeps its container (and its REPL) for Retry.
                reset_done = True
                in_doubt = doubt
                log.warning("container %s: %s; trying without it", state.container_id, doubt)
                await self._reset(state, turn, hooks)
                out.pending = partial(self._announce_reset, hooks)
                continue
            except ClaudeError as exc:
                if out.pending is not None and in_doubt is not None:
                    out.pending = None
                    log.warning("the request without the container failed too (%s): an outage", exc)
                    raise in_doubt from exc
                raise
            await out.answered()
            cut_offs = 0
            hooks.count(response.usage)
            prompt_tokens = response.usage.total_input
            if response.container_id:
                state.container_id = response.container_id
            if response.stop_reason == "refusal":
                return await self._refused(state, response, out.response_chars, hooks)
            state.messages.append({"role": "assistant", "content": response.content})
            _collect(response.content, state)
            await hooks.save(
                state.messages,
                container_id=response.container_id,
                container_expires_at=response.container_expires_at,
                forget_container=False,
                stop_reason=response.stop_reason,
            )
            stop = response.stop_reason
            if stop in ("pause_turn", "tool_use"):
                continuations += 1
                if continuations > self.max_continuations:
                    return self._over_limit(state)
                if stop == "tool_use":
                    state.messages.append(
                        {"role": "user", "content": await _run_tools(response.content, hooks)}
                    )
                continue
            return self._finish(state, stop, response.stop_details)

    async def _resume(self, state: _State, turn: TurnInput, hooks: TurnHooks) -> TurnResult | None:
        """Pick up a turn a restart suspended, from what it saved. Returns its result when Claude had
        already finished (only the turn's end is left), else None: the loop sends the next request."""
        for message in turn.resumed:
            if message["role"] == "assistant":
                _collect(message["content"], state)
        stop = turn.resumed_stop
        if stop == "refusal":
            return self._result(state, TurnOutcome.REFUSED, None)
        if turn.resumed[-1]["role"] != "assistant":
            return None  # tool results or a cut-off note: they go out with the next request
        if stop not in ("pause_turn", "tool_use"):
            return self._finish(state, stop, None)
        if stop == "tool_use":
            # The calls were saved, their results not: run them now (our tools are safe to repeat).
            state.messages.append(
                {"role": "user", "content": await _run_tools(state.messages[-1]["content"], hooks)}
            )
        # pause_turn: the paused response goes back unchanged, as after any pause (reference §3.4).
        return None

    def _over_limit(self, state: _State) -> TurnResult:
        return self._result(
            state,
            TurnOutcome.LIMIT,
            f"I stopped after {self.max_continuations} steps, the most one turn may take. "
            "Reply *continue* to let me go on.",
        )

    async def _cut_off(self, state: _State, cut: ResponseCutOff, hooks: TurnHooks) -> None:
        """Keep what arrived of a broken response, as after a Stop, and ask Claude to go on."""
        partial = cut.response
        log.warning("the response broke off after it started (%s); keeping what arrived", cut.failure)
        hooks.count(partial.usage)
        answered = {b.get("tool_use_id") for b in partial.content}
        unfinished = [
            str(b.get("id"))
            for b in partial.content
            if b.get("type") == "server_tool_use" and b.get("id") not in answered
        ]
        _collect(partial.content, state)
        kept = repair_history([*state.messages, {"role": "assistant", "content": partial.content}])
        note: Message = {"role": "user", "content": [{"type": "text", "text": CUT_OFF_NOTE}]}
        state.messages = merge_consecutive([*kept, note])
        # Ends with the note (a user message): a turn resumed from here sends it.
        await hooks.save(
            state.messages,
            container_id=None,
            container_expires_at=None,
            forget_container=False,
            stop_reason=None,
        )
        await hooks.emit(
            [
                ResponseInterrupted(),
                *(
                    StepFinished(
                        step_id, StepStatus.FAILED, error="the connection broke before its result came"
                    )
                    for step_id in unfinished
                ),
            ]
        )

    async def _refused(
        self, state: _State, response: ModelResponse, chars: int, hooks: TurnHooks
    ) -> TurnResult:
        """Take the refused response's text back and leave the refused turn out of the history
        (its earlier responses too: what they answered was part of the same request)."""
        log.warning("the response was refused (%r)", response.stop_details)
        await hooks.emit([TextWithdrawn(chars, refusal_line(response.stop_details, withdrawn=chars > 0))])
        state.messages = [{"role": "user", "content": [{"type": "text", "text": REFUSED_NOTE}]}]
        await hooks.save(
            state.messages,
            container_id=response.container_id,
            container_expires_at=response.container_expires_at,
            forget_container=False,
            stop_reason="refusal",
        )
        return self._result(state, TurnOutcome.REFUSED, None)

    async def _reset(self, state: _State, turn: TurnInput, hooks: TurnHooks) -> None:
        """Start over in a new container: this turn's earlier responses referenced the old one, so they
        are dropped, the thread's files are attached again and Claude is told its variables are gone.
        Nothing is saved or shown until `_announce_reset`."""
        state.container_id = None
        state.texts.clear()
        state.file_ids.clear()
        reattach = await hooks.reattach_blocks()
        user_content = [b for b in turn.user_content if b.get("type") != "container_upload"]
        state.messages = [
            {
                "role": "user",
                "content": [*reattach, {"type": "text", "text": SANDBOX_RESET_NOTE}, *user_content],
            }
        ]

    @staticmethod
    async def _announce_reset(hooks: TurnHooks) -> None:
        metrics.CONTAINER_RESETS.inc()
        await hooks.save(
            [], container_id=None, container_expires_at=None, forget_container=True, stop_reason=None
        )
        await hooks.emit(
            [
                Notice(
                    "The sandbox had expired, so I started a new one: earlier Python variables are gone, "
                    "the thread's files are back in place."
                )
            ]
        )

    def _finish(self, state: _State, stop: str | None, details: Any) -> TurnResult:
        if stop in ("end_turn", "stop_sequence", None):
            return self._result(state, TurnOutcome.ANSWERED, None)
        if stop == "max_tokens":
            return self._result(
                state,
                TurnOutcome.LIMIT,
                "My answer hit the length limit and was cut off. Reply *continue* for the rest.",
            )
        if stop == "model_context_window_exceeded":
            return self._result(
                state,
                TurnOutcome.LIMIT,
                "This thread's conversation has filled Claude's context window. Press *New session* to "
                "start over.",
            )
        log.warning("unexpected stop reason %r (%r)", stop, details)
        return self._result(state, TurnOutcome.ANSWERED, None)

    @staticmethod
    def _result(state: _State, outcome: TurnOutcome, message: str | None) -> TurnResult:
        return TurnResult(
            outcome=outcome,
            text="".join(state.texts),
            output_file_ids=list(dict.fromkeys(state.file_ids)),
            message=message,
        )


def refusal_line(details: Any, *, withdrawn: bool) -> str:
    """The line shown for a refusal, with the API's explanation when it gives one (`stop_details`
    is always there on a refusal, but `category` and `explanation` may be null)."""
    explanation = details.get("explanation") if isinstance(details, dict) else None
    said = (
        f"Claude declined this request: {str(explanation).strip()}"
        if explanation
        else "Claude declined this request."
    )
    removed = " Its unfinished answer was removed." if withdrawn else ""
    return f"{said}{removed} You can rephrase it, or press *New session* to start over."


def _collect(content: Sequence[Block], state: _State) -> None:
    for block in content:
        kind = block.get("type")
        if kind == "text":
            state.texts.append(str(block.get("text", "")))
        elif kind in ("bash_code_execution_tool_result", "code_execution_tool_result"):
            result = block.get("content")
            if isinstance(result, dict):
                for item in result.get("content") or []:
                    if isinstance(item, dict) and item.get("file_id"):
                        state.file_ids.append(str(item["file_id"]))


async def _run_tools(content: Sequence[Block], hooks: TurnHooks) -> list[Block]:
    """Answer every pending client tool call (programmatic or direct), concurrently, in order."""
    calls = [b for b in content if b.get("type") == "tool_use"]

    async def one(call: Block) -> Block:
        try:
            output = await hooks.run_tool(str(call["name"]), dict(call.get("input") or {}))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("tool %s failed", call.get("name"))
            output = ToolOutput(f"The tool failed: {exc}", is_error=True)
        result: Block = {"type": "tool_result", "tool_use_id": call["id"], "content": output.text}
        if output.is_error:
            result["is_error"] = True
        return result

    return list(await asyncio.gather(*(one(c) for c in calls)))
