"""One turn of a thread's conversation with Claude: the request loop.

A turn is one new user message and as many model responses as it takes: `pause_turn` is continued
with the content unchanged and the same container; `tool_use` (from sandbox code or direct) runs our
tool and answers with a user message of tool results only, same container (reference §3.4, §4). The
turn's messages are saved after every response, so a restart loses nothing that was answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import metrics
from bot.claude.api import ClaudeApi, ClaudeError, ContainerGone
from bot.claude.request import Block, Message, build_request
from bot.model import Notice, ToolOutput, TurnEvent, TurnOutcome, TurnResult, Usage

log = logging.getLogger(__name__)

SANDBOX_RESET_NOTE = (
    "Note: the sandbox was reset (the previous container expired), so Python variables and anything "
    "computed before are gone. The thread's files were attached again to $INPUT_DIR."
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


@dataclass
class TurnInput:
    system: str
    tools: list[Block]
    history: list[Message]
    user_content: list[Block]
    container_id: str | None
    # A turn resumed after a restart: its responses (and tool results) saved after `user_content`, and
    # why the last of them stopped. The loop goes on from there rather than asking again.
    resumed: list[Message] = field(default_factory=list)
    resumed_stop: str | None = None


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
        reset_done = False
        continuations = 0
        previous_len = 0  # messages in this turn's previous request
        if turn.resumed:
            for message in turn.resumed:
                if message["role"] == "assistant":
                    _collect(message["content"], state)
            stop = turn.resumed_stop
            if stop not in ("pause_turn", "tool_use"):
                return self._finish(state, stop, None)  # Claude had finished: only the turn's end is left
            if stop == "tool_use":
                # The calls were saved, their results not: run them now (our tools are safe to repeat).
                state.messages.append(
                    {"role": "user", "content": await _run_tools(state.messages[-1]["content"], hooks)}
                )
            # pause_turn: the paused response goes back unchanged, as after any pause (reference §3.4).
        while True:
            messages = [*turn.history, *state.messages]
            body = build_request(
                model=self.model,
                max_tokens=self.max_tokens,
                system=turn.system,
                tools=turn.tools,
                messages=messages,
                history_len=len(turn.history),
                container_id=state.container_id,
                previous_len=previous_len,
            )
            previous_len = len(messages)
            try:
                response = await self.api.stream(body, hooks.emit)
            except ContainerGone as exc:
                if reset_done:
                    raise ClaudeError(
                        "The sandbox could not be started again; try again in a minute.", detail=str(exc)
                    ) from exc
                reset_done = True
                log.warning("container %s rejected (%s); starting a new one", state.container_id, exc)
                await self._reset(state, turn, hooks)
                continue
            hooks.count(response.usage)
            if response.container_id:
                state.container_id = response.container_id
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
                    return self._result(
                        state,
                        TurnOutcome.LIMIT,
                        f"I stopped after {self.max_continuations} steps, the most one turn may take. "
                        "Reply *continue* to let me go on.",
                    )
                if stop == "tool_use":
                    state.messages.append(
                        {"role": "user", "content": await _run_tools(response.content, hooks)}
                    )
                continue
            return self._finish(state, stop, response.stop_details)

    async def _reset(self, state: _State, turn: TurnInput, hooks: TurnHooks) -> None:
        """Start over in a new container: this turn's earlier responses referenced the old one, so they
        are dropped, the thread's files are attached again and Claude is told its variables are gone."""
        metrics.CONTAINER_RESETS.inc()
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
        if stop == "refusal":
            return self._result(state, TurnOutcome.REFUSED, "Claude declined to help with this request.")
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
