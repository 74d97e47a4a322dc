"""SSE parsing and accumulation: the final message is exactly the wire content; events say what shows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.claude.stream import (
    LineTooLong,
    ResponseAccumulator,
    SSELines,
    SSEParser,
    started_event,
    step_title,
)
from bot.model import StepFinished, StepStarted, StepStatus, TextDelta

RESULT = {
    "type": "bash_code_execution_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": {
        "type": "bash_code_execution_result",
        "stdout": "42\n",
        "stderr": "",
        "return_code": 0,
        "content": [{"type": "bash_code_execution_output", "file_id": "file_1"}],
    },
}


def sse(events: list[dict[str, Any]]) -> list[str]:
    lines = []
    for e in events:
        lines += [f"event: {e['type']}", f"data: {json.dumps(e)}", ""]
    return lines


def test_a_code_run_then_text() -> None:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1}},
        },
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "bash_code_execution",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"command": "# Count rows\\nwc -l'},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": ' data.csv"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": RESULT},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "There are "}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "42 rows."}},
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "end_turn",
                "container": {"id": "container_1", "expires_at": "2026-11-22T01:00:00Z"},
            },
            "usage": {"output_tokens": 30},
        },
        {"type": "message_stop"},
    ]
    parser, acc = SSEParser(), ResponseAccumulator()
    shown = []
    for line in sse(events):
        event = parser.feed(line)
        if event is not None:
            shown += acc.feed(event)
    r = acc.response
    assert r.stop_reason == "end_turn" and r.container_id == "container_1"
    assert r.content[0] == {
        "type": "server_tool_use",
        "id": "srvtoolu_1",
        "name": "bash_code_execution",
        "input": {"command": "# Count rows\nwc -l data.csv"},
    }
    assert r.content[1] == RESULT and r.content[2] == {"type": "text", "text": "There are 42 rows."}
    assert (r.usage.input_tokens, r.usage.cache_read_tokens, r.usage.output_tokens) == (10, 90, 30)
    assert shown == [
        StepStarted("srvtoolu_1", "bash", "Count rows", "# Count rows\nwc -l data.csv"),
        StepFinished("srvtoolu_1", StepStatus.DONE, stdout="42\n", return_code=0, file_ids=("file_1",)),
        TextDelta("There are "),
        TextDelta("42 rows."),
    ]


def test_error_event_raises() -> None:
    import pytest

    from bot.claude.stream import StreamError

    acc = ResponseAccumulator()
    with pytest.raises(StreamError):
        acc.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def test_step_titles() -> None:
    assert (
        step_title("python", {"code": "import pandas as pd\ndf = pd.read_csv('x')"})
        == "Python: import pandas as pd"
    )
    assert step_title("python", {"code": "# Load the sales data\ndf = 1"}) == "Load the sales data"
    assert step_title("bash", {"command": "#!/bin/bash\nls -la"}) == "Shell: ls -la"
    assert step_title("edit", {"command": "create", "path": "/tmp/out/report.md"}) == "Write report.md"
    assert (
        started_event({"id": "t", "name": "code_execution", "input": {"code": "print(1)"}}).kind == "python"
    )


def test_a_tool_input_cut_off_by_max_tokens_is_kept_empty() -> None:
    acc = ResponseAccumulator()
    block = {"type": "server_tool_use", "id": "srvtoolu_2", "name": "code_execution", "input": {}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": block},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"code": "for i in range(10'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 64}},
    ]
    for event in events:
        acc.feed(event)
    assert acc.response.stop_reason == "max_tokens"
    assert acc.response.content[0]["input"] == {}


_SERVER = {"type": "server_tool_use", "id": "srvtoolu_3", "name": "bash_code_execution"}
_CLIENT = {"type": "tool_use", "id": "toolu_3", "name": "thread_history", "caller": {"type": "direct"}}


def _delta(partial: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": partial},
    }


@pytest.mark.parametrize(
    ("start", "deltas", "expected"),
    [
        # Recorded: `input: {}` in the start, then "" and the JSON (pydantic-ai cassettes, §7).
        ({**_SERVER, "input": {}}, ["", '{"command": "ls"}'], {"command": "ls"}),
        # A call without arguments: only the empty fragment (anthropic-sdk-java#295, #382).
        ({**_CLIENT, "input": {}}, [""], {}),
        # The docs' streaming example starts the block without `input`; no fragment at all.
        (_SERVER, [], {}),
        (_CLIENT, [], {}),
        (_CLIENT, [""], {}),
        # Without `input` in the start but with fragments: the fragments are the input.
        (_SERVER, ['{"command": ', '"pwd"}'], {"command": "pwd"}),
    ],
)
def test_a_tool_block_always_ends_with_an_input_object(
    start: dict[str, Any], deltas: list[str], expected: dict[str, Any]
) -> None:
    """The block is stored and sent back as history, where the API requires `input`."""
    acc = ResponseAccumulator()
    acc.feed({"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}})
    acc.feed({"type": "content_block_start", "index": 0, "content_block": dict(start)})
    for partial in deltas:
        acc.feed(_delta(partial))
    acc.feed({"type": "content_block_stop", "index": 0})
    assert acc.response.content[0]["input"] == expected


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"event: ping\ndata: {}\n\n"], ["event: ping", "data: {}", ""]),
        ([b'data: {"a"', b": 1}\n", b"\n"], ['data: {"a": 1}', ""]),  # a line over two chunks
        ([b"da", b"ta", b": x", b"\r\n\r\n"], ["data: x", ""]),  # CRLF line ends
        ([b"data: \xc3", b"\xa9\n"], ["data: \u00e9"]),  # a character split between chunks
        ([b"data: x"], []),  # no line end yet: nothing
        ([b"\n\n\n"], ["", "", ""]),
    ],
)
def test_lines_are_cut_where_they_end_not_where_chunks_do(chunks: list[bytes], lines: list[str]) -> None:
    splitter = SSELines(max_line=100)
    seen: list[str] = []
    for chunk in chunks:
        seen += splitter.feed(chunk)
    assert seen == lines


@pytest.mark.parametrize(
    "chunks",
    [
        [b"x" * 101],  # one chunk
        [b"x" * 60, b"x" * 60],  # over several chunks
        [b"data: ok\n" + b"x" * 101],  # the rest after a line end
    ],
)
def test_a_line_over_the_limit_is_refused(chunks: list[bytes]) -> None:
    splitter = SSELines(max_line=100)
    *before, last = chunks
    for chunk in before:
        splitter.feed(chunk)
    with pytest.raises(LineTooLong):
        splitter.feed(last)


def test_a_line_of_exactly_the_limit_is_read() -> None:
    splitter = SSELines(max_line=100)
    assert splitter.feed(b"x" * 50) == [] and splitter.feed(b"x" * 50) == []
    assert splitter.feed(b"\n") == ["x" * 100]


def _feed(events: list[dict[str, Any]]) -> ResponseAccumulator:
    acc = ResponseAccumulator()
    parser = SSEParser()
    for line in sse(events):
        event = parser.feed(line)
        if event is not None:
            acc.feed(event)
    return acc


START = {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}}
CODE_START = {
    "type": "content_block_start",
    "index": 1,
    "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "code_execution", "input": {}},
}
CODE_INPUT = {
    "type": "content_block_delta",
    "index": 1,
    "delta": {"type": "input_json_delta", "partial_json": '{"code": "n += 1"}'},
}
TEXT_START = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
TEXT = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Counting."}}
RESULT_2 = {**RESULT, "tool_use_id": "srvtoolu_1"}


@pytest.mark.parametrize(
    ("events", "started", "kept"),
    [
        ([START], False, []),
        # Text streamed so far is kept even though its block never closed.
        ([START, TEXT_START, TEXT], True, [{"type": "text", "text": "Counting."}]),
        ([START, TEXT_START], True, []),  # an empty text block is not content
        # A code call whose input is still arriving cannot have run: left out.
        ([START, TEXT_START, TEXT, {**TEXT, "type": "content_block_stop"}, CODE_START], True, ["text"]),
        # Complete, it may have run: kept (the repair drops it if its result never came).
        (
            [
                START,
                TEXT_START,
                TEXT,
                {"type": "content_block_stop", "index": 0},
                CODE_START,
                CODE_INPUT,
                {"type": "content_block_stop", "index": 1},
            ],
            True,
            ["text", "server_tool_use"],
        ),
        # A result block arrives whole: kept even without its stop event.
        (
            [
                START,
                TEXT_START,
                TEXT,
                {"type": "content_block_stop", "index": 0},
                CODE_START,
                CODE_INPUT,
                {"type": "content_block_stop", "index": 1},
                {"type": "content_block_start", "index": 2, "content_block": RESULT_2},
            ],
            True,
            ["text", "server_tool_use", "bash_code_execution_tool_result"],
        ),
    ],
)
def test_what_is_kept_of_a_response_that_broke_off(
    events: list[dict[str, Any]], started: bool, kept: list[Any]
) -> None:
    acc = _feed(events)
    assert acc.started is started
    partial = acc.partial()
    shapes = [b if isinstance(k, dict) else b["type"] for b, k in zip(partial.content, kept, strict=True)]
    assert shapes == kept
    assert partial.stop_reason is None and partial.usage.input_tokens == 7
