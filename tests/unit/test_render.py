"""Answer splitting and task cards, table-driven."""

from __future__ import annotations

import pytest

from bot.model import StepFinished, StepStarted, StepStatus
from bot.slack.render import (
    choose_cut,
    head_lines,
    open_fence,
    split_markdown,
    step_output,
    summary_of,
    tail_lines,
    task_finished,
    task_line,
    task_started,
)
from bot.slack.safe_text import INERT_AT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", None),
        ("```python\nx = 1\n```", None),
        ("```python\nx = 1\n", "```python"),
        ("intro\n~~~\ncode", "~~~"),
        ("````\n```\nstill inside\n", "````"),
        ("```\na\n```\n\n```sql\nselect", "```sql"),
    ],
)
def test_open_fence(text: str, expected: str | None) -> None:
    assert open_fence(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "cut_after"),
    [
        ("short", 100, "short"),
        ("para one\n\npara two is here\n", 18, "para one\n\n"),
        ("line one\nline two\nline three", 20, "line one\nline two\n"),
        # A table longer than the limit leaves no line to cut at: the cut is hard, at the limit.
        ("| a | b |\n|---|---|\n| 1 | 2 |\nafter", 28, "| a | b |\n|---|---|\n| 1 | 2 "),
        ("intro\n| a | b |\n|---|---|\n| 1 | 2 |\nafter", 34, "intro\n"),
        ("x" * 50, 20, "x" * 20),
    ],
)
def test_choose_cut(text: str, limit: int, cut_after: str) -> None:
    assert text[: choose_cut(text, limit)] == cut_after


def _answer_with_fences(total: int) -> str:
    parts: list[str] = []
    i = 0
    while sum(len(p) for p in parts) < total:
        parts.append(f"Paragraph {i} explains the next step of the analysis in some detail.\n\n")
        parts.append(
            "```python\n" + "".join(f"value_{i}_{j} = compute({j})\n" for j in range(40)) + "```\n\n"
        )
        i += 1
    return "".join(parts)


def test_thirty_thousand_characters_split_with_balanced_fences() -> None:
    text = _answer_with_fences(30_000)
    parts = split_markdown(text, 11_000)
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= 11_000 + 20
        assert open_fence(part) is None, part[-200:]
    # Nothing lost or doubled apart from the fence lines added at the cuts.
    rebuilt = parts[0]
    for part in parts[1:]:
        rebuilt = (
            rebuilt.removesuffix("\n```")
            if rebuilt.endswith("\n```") and not text.startswith(rebuilt)
            else rebuilt
        )
        rebuilt += (
            part.removeprefix("```python\n")
            if part.startswith("```python\n") and not text[len(rebuilt) :].startswith("```python")
            else part
        )
    assert rebuilt.replace("\n", "") == text.replace("\n", "")


def test_a_fence_longer_than_a_message_is_closed_and_reopened() -> None:
    code = "```sql\n" + "select 1;\n" * 3000 + "```\nafter"
    parts = split_markdown(code, 11_000)
    assert len(parts) == 3
    assert all(open_fence(p) is None for p in parts)
    assert parts[1].startswith("```sql\n") and parts[2].startswith("```sql\n")
    assert parts[-1].endswith("after")


def test_tables_are_not_split() -> None:
    table = "| k | v |\n|---|---|\n" + "".join(f"| {i} | {i * i} |\n" for i in range(40))
    text = "x" * 100 + "\n\n" + table + "\n" + "y" * 100
    parts = split_markdown(text, len(text) - 50)
    assert sum(table.strip() in part for part in parts) == 1
    for part in parts:
        rows = [line for line in part.split("\n") if line.startswith("|")]
        assert not rows or rows[0] == "| k | v |"


@pytest.mark.parametrize(
    ("step", "expect"),
    [
        (StepFinished("s", StepStatus.DONE, stdout="42\n"), "```\n42\n\n```"),
        (StepFinished("s", StepStatus.DONE), "Done, no output."),
        (
            StepFinished("s", StepStatus.FAILED, error="execution_time_exceeded"),
            "Error: execution_time_exceeded",
        ),
        (
            StepFinished(
                "s",
                StepStatus.FAILED,
                stderr="Traceback\n  line\nZeroDivisionError: division by zero\n",
                return_code=1,
            ),
            "Failed (exit code 1):\n```\nTraceback\n  line\nZeroDivisionError: division by zero\n```",
        ),
        (StepFinished("s", StepStatus.DONE, file_ids=("f1",)), "1 file(s) saved to the thread"),
    ],
)
def test_step_output(step: StepFinished, expect: str) -> None:
    assert step_output(step) == expect


def test_error_shows_last_lines_and_output_shows_head() -> None:
    long = "\n".join(f"line {i}" for i in range(100))
    assert tail_lines(long).endswith("line 99") and "line 0\n" not in tail_lines(long)
    assert head_lines(long).startswith("line 0") and head_lines(long).endswith("…")


def test_summary_of_a_long_answer() -> None:
    text = "First paragraph with the answer: 42.\n\n" + "More detail. " * 2000
    assert summary_of(text).startswith("First paragraph with the answer: 42.")
    assert len(summary_of(text)) < 700


@pytest.mark.parametrize(
    ("status", "output", "expected"),
    [
        # A single `*` is italic in a markdown block: the step's name is bold with `**`.
        (StepStatus.DONE, None, "✅ **Load data**\n"),
        (StepStatus.RUNNING, None, "⏳ **Load data**\n"),
        (StepStatus.FAILED, "Error: boom", "❌ **Load data**\nError: boom\n"),
    ],
)
def test_task_line(status: StepStatus, output: str | None, expected: str) -> None:
    assert task_line("Load data", status, output) == expected


def test_cards_carry_no_channel_wide_mentions() -> None:
    started = task_started(StepStarted("s", "python", "Tell <!channel>", "print('<!here>')"))
    finished = task_finished(StepFinished("s", StepStatus.DONE), "@everyone", "<!here> done")
    line = task_line("<!everyone>", StepStatus.FAILED, "<!here>")
    for text in (started["title"], started["details"], finished["title"], finished["output"], line):
        assert "<!" not in text and "@everyone" not in text and INERT_AT in text
