"""A turn resumed after a restart goes on from its last saved response: the stop reason says how."""

from __future__ import annotations

from typing import Any, cast

import pytest

from bot.claude.api import ClaudeApi
from bot.claude.conversation import Conversation, TurnInput
from bot.claude.request import Block, Message
from bot.claude.stream import ModelResponse
from bot.model import ToolOutput, TurnEvent, TurnOutcome, Usage

QUESTION: list[Block] = [{"type": "text", "text": "plot the sales"}]
PAUSED: Message = {"role": "assistant", "content": [{"type": "text", "text": "Loading the data."}]}
CUT_NOTE: Message = {"role": "user", "content": [{"type": "text", "text": "(your last step was cut off)"}]}
CALLED: Message = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "post_update", "input": {"text": "halfway"}}],
}
ANSWERED: Message = {"role": "assistant", "content": [{"type": "text", "text": "Apples grew fastest."}]}


class FakeApi:
    """Answers every request with one final response and keeps the bodies it was sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def stream(self, body: dict[str, Any], on_events: Any, **_: Any) -> ModelResponse:
        self.bodies.append(body)
        return ModelResponse(
            content=[{"type": "text", "text": " Done."}], stop_reason="end_turn", container_id="container_1"
        )


class Hooks:
    def __init__(self) -> None:
        self.tools: list[str] = []
        self.saves: list[tuple[int, str | None]] = []

    async def emit(self, events: list[TurnEvent]) -> None:
        return None

    async def save(self, turn_messages: list[Message], **kwargs: Any) -> None:
        self.saves.append((len(turn_messages), kwargs["stop_reason"]))

    async def run_tool(self, name: str, tool_input: dict[str, Any]) -> ToolOutput:
        self.tools.append(name)
        return ToolOutput("Posted.")

    def count(self, usage: Usage) -> None:
        return None

    async def reattach_blocks(self) -> list[Block]:
        return []

    async def record_outputs(self, file_ids: list[str]) -> None:
        return None

    async def before_request(self, prompt_tokens: int, max_tokens: int) -> str | None:
        return None


@pytest.mark.parametrize(
    ("saved", "stop", "requests", "tools", "last_sent", "text"),
    [
        # Paused: the paused response goes back as it was, and Claude goes on.
        ([PAUSED], "pause_turn", 1, [], "assistant", "Loading the data. Done."),
        # Tool calls saved, their results not: the tools run, then the results go back.
        ([CALLED], "tool_use", 1, ["post_update"], "user", " Done."),
        # Claude had finished: nothing more is asked; the turn only ends (its text and files kept).
        ([ANSWERED], "end_turn", 0, [], None, "Apples grew fastest."),
        ([ANSWERED], "max_tokens", 0, [], None, "Apples grew fastest."),
        # A response that broke off, kept with the note that says so: the note goes out next.
        ([PAUSED, CUT_NOTE], None, 1, [], "user", "Loading the data. Done."),
    ],
)
async def test_a_resumed_turn_goes_on_from_its_last_saved_response(
    saved: list[Message], stop: str | None, requests: int, tools: list[str], last_sent: str | None, text: str
) -> None:
    api = FakeApi()
    hooks = Hooks()
    turn = TurnInput(
        system="s",
        tools=[],
        history=[],
        user_content=QUESTION,
        container_id="container_1",
        resumed=saved,
        resumed_stop=stop,
    )
    conversation = Conversation(cast(ClaudeApi, api), model="m", max_tokens=100, max_continuations=5)
    result = await conversation.run(turn, hooks)
    assert len(api.bodies) == requests and hooks.tools == tools
    assert result.text == text
    if requests:
        messages = api.bodies[0]["messages"]
        assert messages[0]["content"][-1]["text"] == "plot the sales"  # the question, once, first
        assert [m["role"] for m in messages][-1] == last_sent
        assert api.bodies[0]["container"] == "container_1"
    assert result.outcome is (TurnOutcome.LIMIT if stop == "max_tokens" else TurnOutcome.ANSWERED)
