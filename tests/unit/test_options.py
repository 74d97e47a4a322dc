"""The per-turn options as requests carry them, and what the stream makes of web blocks (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.claude.options import (
    beta_headers,
    code_execution_is_free,
    container_id_of,
    container_param,
    prompt_notes,
    web_tools,
)
from bot.claude.request import build_request, repair_history, trim_history
from bot.claude.stream import ResponseAccumulator, finished_event, started_event
from bot.model import Citation, SkillRef, StepFinished, StepStarted, StepStatus, TextDelta, WebAccess

PPTX = SkillRef("anthropic", "pptx", "latest", "pptx", "PowerPoint presentations")
STYLE = SkillRef("custom", "skill_01abc", "1759178010641129", "house-style", "Our colours.")


@pytest.mark.parametrize(
    ("web", "tools"),
    [
        (WebAccess(), []),
        (WebAccess(search=True), [{"type": "web_search_20260318", "name": "web_search"}]),
        (
            WebAccess(search=True, fetch=True, blocked_domains=("x.com",)),
            [
                {"type": "web_search_20260318", "name": "web_search", "blocked_domains": ["x.com"]},
                {"type": "web_fetch_20260318", "name": "web_fetch", "blocked_domains": ["x.com"]},
            ],
        ),
        (
            WebAccess(fetch=True, allowed_domains=("ecb.europa.eu",)),
            [{"type": "web_fetch_20260318", "name": "web_fetch", "allowed_domains": ["ecb.europa.eu"]}],
        ),
    ],
)
def test_web_tools(web: WebAccess, tools: list[dict[str, Any]]) -> None:
    assert web_tools(web) == tools


@pytest.mark.parametrize(
    ("tools", "free"),
    [
        ([{"type": "code_execution_20260120", "name": "code_execution"}], False),
        ([{"type": "web_search_20250305", "name": "web_search"}], False),
        ([{"type": "web_fetch_20250910", "name": "web_fetch"}], False),
        ([{"type": "web_search_20260209", "name": "web_search"}], True),
        ([{"type": "web_fetch_20260318", "name": "web_fetch"}], True),
        ([{"name": "web_search_helper", "input_schema": {}}], False),
    ],
)
def test_code_execution_is_free_with_current_web_tools(tools: list[dict[str, Any]], free: bool) -> None:
    assert code_execution_is_free(tools) is free


@pytest.mark.parametrize(
    ("container_id", "skills", "param", "betas"),
    [
        (None, (), None, {}),
        ("container_1", (), "container_1", {}),
        (
            None,
            (PPTX,),
            {"skills": [{"type": "anthropic", "skill_id": "pptx", "version": "latest"}]},
            {"anthropic-beta": "code-execution-2025-08-25,skills-2025-10-02"},
        ),
        (
            "container_1",
            (PPTX, STYLE),
            {
                "skills": [
                    {"type": "anthropic", "skill_id": "pptx", "version": "latest"},
                    {"type": "custom", "skill_id": "skill_01abc", "version": "1759178010641129"},
                ],
                "id": "container_1",
            },
            {"anthropic-beta": "code-execution-2025-08-25,skills-2025-10-02"},
        ),
    ],
)
def test_container_and_beta_headers(
    container_id: str | None, skills: tuple[SkillRef, ...], param: Any, betas: dict[str, str]
) -> None:
    assert container_param(container_id, skills) == param
    body = build_request(
        model="m",
        max_tokens=10,
        system="s",
        tools=[],
        messages=[{"role": "user", "content": "hi"}],
        history_len=0,
        container_id=container_id,
        skills=skills,
    )
    assert body.get("container") == param
    assert beta_headers(body) == betas
    assert container_id_of(body.get("container")) == container_id


def test_prompt_notes_say_what_is_on() -> None:
    assert prompt_notes(WebAccess(), ()) == ""
    both = prompt_notes(WebAccess(search=True, allowed_domains=("ecb.europa.eu",)), (PPTX, STYLE))
    assert "search the web with `web_search`" in both and "web_fetch" not in both
    assert "Only these sites can be reached: ecb.europa.eu." in both
    assert "- `pptx`: PowerPoint presentations" in both and "- `house-style`: Our colours." in both


SEARCH_USE: dict[str, Any] = {
    "type": "server_tool_use",
    "id": "srvtoolu_w",
    "name": "web_search",
    "input": {"query": "ECB deposit rate"},
    "caller": {"type": "direct"},
}
SEARCH_RESULT: dict[str, Any] = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_w",
    "caller": {"type": "direct"},
    "content": [
        {
            "type": "web_search_result",
            "url": "https://ecb.europa.eu/r",
            "title": "ECB rates",
            "encrypted_content": "E1",
        }
    ],
}
CITE: dict[str, Any] = {
    "type": "web_search_result_location",
    "url": "https://ecb.europa.eu/r",
    "title": "ECB rates",
    "encrypted_index": "I1",
    "cited_text": "2.00%",
}


@pytest.mark.parametrize(
    ("block", "title"),
    [
        (SEARCH_USE, "Searching the web: ECB deposit rate"),
        (
            {**SEARCH_USE, "name": "web_fetch", "input": {"url": "https://www.ecb.europa.eu/x?y"}},
            "Reading www.ecb.europa.eu",
        ),
    ],
)
def test_web_steps_have_titles(block: dict[str, Any], title: str) -> None:
    step = started_event(block)
    assert (step.kind, step.title) == ("web", title)


@pytest.mark.parametrize(
    ("content", "status", "shown"),
    [
        (SEARCH_RESULT["content"], StepStatus.DONE, "ECB rates (https://ecb.europa.eu/r)"),
        ([], StepStatus.DONE, "No results."),
        (
            {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
            StepStatus.FAILED,
            "most searches",
        ),
    ],
)
def test_web_results_as_steps(content: Any, status: StepStatus, shown: str) -> None:
    step = finished_event({**SEARCH_RESULT, "content": content})
    assert step.status is status and shown in (step.stdout or step.error or "")


def test_a_cited_text_block_emits_its_sources_after_its_text() -> None:
    acc = ResponseAccumulator()
    events: list[Any] = []
    stream: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": SEARCH_USE | {"input": {}}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": json.dumps(SEARCH_USE["input"])},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": SEARCH_RESULT},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": CITE}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": CITE}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "It is 2.00%."}},
        {"type": "content_block_stop", "index": 2},
    ]
    for event in stream:
        events += acc.feed(event)
    assert [type(e) for e in events] == [StepStarted, StepFinished, TextDelta, Citation]
    assert events[-1] == Citation("https://ecb.europa.eu/r", "ECB rates")
    assert acc.response.content[2] == {"type": "text", "text": "It is 2.00%.", "citations": [CITE, CITE]}


def test_history_keeps_web_results_and_drops_an_unanswered_search() -> None:
    user = {"role": "user", "content": [{"type": "text", "text": "rates?"}]}
    cited = {"type": "text", "text": "2%", "citations": [CITE]}
    history: list[dict[str, Any]] = [
        user,
        {"role": "assistant", "content": [SEARCH_USE, SEARCH_RESULT, cited]},
        {"role": "user", "content": [{"type": "text", "text": "more"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Looking."}, {**SEARCH_USE, "id": "srvtoolu_x"}],
        },
    ]
    repaired = repair_history(history)
    assert repaired[1]["content"] == [SEARCH_USE, SEARCH_RESULT, cited]
    assert repaired[3]["content"] == [{"type": "text", "text": "Looking."}]
    # Trimming long threads never edits web results: their encrypted parts must go back unchanged.
    trimmed, count = trim_history(repaired, 0, budget_tokens=1)
    assert trimmed[1]["content"] == [SEARCH_USE, SEARCH_RESULT, cited] and count == 0
