"""Request building, history repair and trimming (pure), table-driven."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.claude.request import (
    TRIMMED,
    PromptContext,
    build_request,
    estimate_tokens,
    repair_history,
    system_prompt,
    trim_history,
)

USER = {"role": "user", "content": [{"type": "text", "text": "Ana (<@U1>): x = 41"}]}
ANSWER = {"role": "assistant", "content": [{"type": "text", "text": "Done."}]}


def bash_use(i: str) -> dict[str, Any]:
    return {
        "type": "server_tool_use",
        "id": f"srvtoolu_{i}",
        "name": "bash_code_execution",
        "input": {"command": "ls"},
    }


def bash_result(i: str, stdout: str = "a.csv\n") -> dict[str, Any]:
    return {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": f"srvtoolu_{i}",
        "content": {
            "type": "bash_code_execution_result",
            "stdout": stdout,
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    }


NEXT: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "and then?"}]}

PTC_PAUSE: dict[str, Any] = {
    "role": "assistant",
    "content": [
        {"type": "text", "text": "Reading the thread."},
        {
            "type": "server_tool_use",
            "id": "srvtoolu_c",
            "name": "code_execution",
            "input": {"code": "await thread_history({})"},
        },
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "thread_history",
            "input": {},
            "caller": {"type": "code_execution_20260120", "tool_id": "srvtoolu_c"},
        },
    ],
}


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], []),
        ([USER, ANSWER], [USER, ANSWER]),
        # A turn stopped during a programmatic tool call: the unanswered calls go, the text stays.
        ([USER, PTC_PAUSE], [USER, {"role": "assistant", "content": [PTC_PAUSE["content"][0]]}]),
        # pause_turn with a dangling server_tool_use (reference §3.4).
        (
            [USER, {"role": "assistant", "content": [bash_use("1"), bash_result("1"), bash_use("2")]}],
            [USER, {"role": "assistant", "content": [bash_use("1"), bash_result("1")]}],
        ),
        # The continuation of a pause_turn is stored as a second assistant message: merged, nothing dropped.
        (
            [
                USER,
                {"role": "assistant", "content": [bash_use("1")]},
                {"role": "assistant", "content": [bash_result("1")]},
            ],
            [USER, {"role": "assistant", "content": [bash_use("1"), bash_result("1")]}],
        ),
        # Tool results that never got an answer, and an assistant message that empties out.
        (
            [
                USER,
                {"role": "assistant", "content": [PTC_PAUSE["content"][2]]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "[]"}],
                },
            ],
            [USER],
        ),
        # Stopped at a cell's second tool call: the first call's results go too, and the cell with them.
        (
            [
                USER,
                {"role": "assistant", "content": PTC_PAUSE["content"][1:]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "[]"}],
                },
                {"role": "assistant", "content": [{**PTC_PAUSE["content"][2], "id": "toolu_2"}]},
            ],
            [USER],
        ),
        # A turn cut short in the middle of the history is repaired too, and an empty answer dropped:
        # later turns must not carry its loose ends into every request.
        (
            [USER, PTC_PAUSE, NEXT, {"role": "assistant", "content": []}, NEXT, ANSWER],
            [
                USER,
                {"role": "assistant", "content": [PTC_PAUSE["content"][0]]},
                {"role": "user", "content": [*NEXT["content"], *NEXT["content"]]},
                ANSWER,
            ],
        ),
    ],
)
def test_repair_history(history: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(history)
    assert repair_history(history) == expected
    assert history == before  # the stored history is never modified


def test_cache_breakpoints_on_system_history_end_and_request_end() -> None:
    new_user = {"role": "user", "content": [{"type": "text", "text": "Ben (<@U2>): print(x + 1)"}]}
    body = build_request(
        model="claude-sonnet-5",
        max_tokens=1000,
        system="sys",
        tools=[{"type": "code_execution_20260120", "name": "code_execution"}],
        messages=[USER, ANSWER, new_user],
        history_len=2,
        container_id="container_1",
    )
    assert body["container"] == "container_1"
    hour = {"type": "ephemeral", "ttl": "1h"}
    assert body["system"] == [{"type": "text", "text": "sys", "cache_control": hour}]
    marked = [
        (i, j, b["cache_control"])
        for i, m in enumerate(body["messages"])
        for j, b in enumerate(m["content"])
        if "cache_control" in b
    ]
    # One-hour entries: the next turn, often more than five minutes later, reads them (bench: cache_ttl).
    assert marked == [(1, 0, hour), (2, 0, hour)]
    assert "cache_control" not in ANSWER["content"][0]  # copies only


def test_a_continuation_also_marks_where_the_previous_request_ended() -> None:
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
    call = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "post_update", "input": {}}],
    }
    body = build_request(
        model="m",
        max_tokens=1,
        system="s",
        tools=[],
        messages=[USER, ANSWER, NEXT, call, result],
        history_len=2,
        container_id=None,
        previous_len=3,
    )
    marked = [i for i, m in enumerate(body["messages"]) if any("cache_control" in b for b in m["content"])]
    assert marked == [1, 2, 4]  # history end, previous request's end, this request's end (+ system: 4)


def test_no_container_means_no_container_field() -> None:
    body = build_request(
        model="m", max_tokens=1, system="s", tools=[], messages=[USER], history_len=0, container_id=None
    )
    assert "container" not in body


def test_system_prompt_is_stable_and_says_where_files_go() -> None:
    ctx = PromptContext("Claude", "the #sales channel", ["thread_history", "post_update"])
    text = system_prompt(ctx)
    assert text == system_prompt(ctx)
    assert "INPUT_DIR" in text and "OUTPUT_DIR" in text and "top level" in text
    assert "#sales" in text and "`thread_history`" in text


def test_system_prompt_promises_only_what_the_platform_documents() -> None:
    """Interpreter memory may not survive an idle checkpoint (undocumented, issue 12 item 6): Claude
    is told to check, rebuild from `$INPUT_DIR` and say so in one line; and `$OUTPUT_DIR` is
    documented for shell commands only, so Python is told how to fall back and to list it."""
    text = " ".join(
        system_prompt(PromptContext("Claude", "#sales", ["thread_history", "post_update"])).split()
    )
    assert "persist between the turns" not in text
    assert "'df' in globals()" in text and "`post_update`" in text and "rebuild it from the files" in text
    assert 'os.environ.get("OUTPUT_DIR")' in text and 'cp chart.png "$OUTPUT_DIR"/' in text
    assert "listing the directory" in text


def test_trim_keeps_prefix_stable_and_drops_oldest_outputs_first() -> None:
    big = "x" * 40_000
    history: list[dict[str, Any]] = []
    for i in range(6):
        history += [
            USER,
            {
                "role": "assistant",
                "content": [bash_use(str(i)), bash_result(str(i), big), {"type": "text", "text": "ok"}],
            },
        ]
    under, count = trim_history(history, 0, budget_tokens=1_000_000)
    assert count == 0 and under == history
    trimmed, count = trim_history(history, 0, budget_tokens=40_000)
    assert count >= 1
    assert estimate_tokens(trimmed) <= 40_000 * 0.6
    outputs = [m["content"][1]["content"]["stdout"] for m in trimmed if m["role"] == "assistant"]
    assert outputs[:count] == [TRIMMED] * count and outputs[-1] == big
    # The next turn trims the same blocks again, so the cached prefix is unchanged.
    again, count2 = trim_history(history, count, budget_tokens=40_000)
    assert count2 == count and again == trimmed
    # The stored history itself is left as it was.
    assert all(m["content"][1]["content"]["stdout"] == big for m in history if m["role"] == "assistant")
