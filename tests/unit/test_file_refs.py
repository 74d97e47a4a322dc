"""Files API ids in a conversation: which a request names, and a history without deleted ones (item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.claude.file_refs import referenced_file_ids, without_deleted_files

UPLOAD = {"type": "container_upload", "file_id": "file_a"}
IMAGE = {"type": "image", "source": {"type": "file", "file_id": "file_a"}}
PDF = {"type": "document", "source": {"type": "file", "file_id": "file_b"}, "title": "r.pdf"}
PDF_UPLOAD = {"type": "container_upload", "file_id": "file_b"}
TEXT = {"type": "text", "text": "Ana (<@U1>): look at this"}
RESULT: dict[str, Any] = {
    "type": "code_execution_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": {
        "type": "code_execution_result",
        "stdout": "",
        "stderr": "",
        "return_code": 0,
        "content": [
            {"type": "code_execution_output", "file_id": "file_out"},
            {"type": "code_execution_output", "file_id": "file_keep"},
        ],
    },
}
GONE_A = "[attachment `chart.png`: since deleted by the bot]"


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def test_referenced_file_ids_in_order_without_repeats() -> None:
    history = [user(UPLOAD, IMAGE, PDF_UPLOAD, PDF, TEXT), assistant(RESULT), user(UPLOAD, TEXT)]
    assert referenced_file_ids(history) == ["file_a", "file_b", "file_out", "file_keep"]


@pytest.mark.parametrize(
    ("history", "deleted", "expected"),
    [
        # Nothing deleted: the very same list content.
        ([user(UPLOAD, IMAGE, TEXT)], {}, [user(UPLOAD, IMAGE, TEXT)]),
        # An image upload: one line for the file, the image block goes too.
        (
            [user(UPLOAD, IMAGE, TEXT)],
            {"file_a": "chart.png"},
            [user({"type": "text", "text": GONE_A}, TEXT)],
        ),
        # Only the deleted one of two files.
        (
            [user(UPLOAD, IMAGE, PDF_UPLOAD, PDF, TEXT)],
            {"file_a": "chart.png"},
            [user({"type": "text", "text": GONE_A}, PDF_UPLOAD, PDF, TEXT)],
        ),
        # An image block without its container_upload still leaves a line.
        ([user(IMAGE, TEXT)], {"file_a": "chart.png"}, [user({"type": "text", "text": GONE_A}, TEXT)]),
        # A produced file's id leaves its code result; the rest of the result stays.
        (
            [user(TEXT), assistant(RESULT)],
            {"file_out": ""},
            [
                user(TEXT),
                assistant(
                    {
                        **RESULT,
                        "content": {
                            **RESULT["content"],
                            "content": [{"type": "code_execution_output", "file_id": "file_keep"}],
                        },
                    }
                ),
            ],
        ),
        # A deleted file with no name recorded is named by its id.
        (
            [user(UPLOAD, TEXT)],
            {"file_a": ""},
            [user({"type": "text", "text": "[attachment `file_a`: since deleted by the bot]"}, TEXT)],
        ),
    ],
)
def test_without_deleted_files(
    history: list[dict[str, Any]], deleted: dict[str, str], expected: list[dict[str, Any]]
) -> None:
    out = without_deleted_files(history, deleted)
    assert out == expected
    assert not set(referenced_file_ids(out)) & set(deleted)


def test_untouched_messages_are_the_same_objects() -> None:
    kept = user(TEXT)
    out = without_deleted_files([kept, user(UPLOAD, TEXT)], {"file_a": "a.csv"})
    assert out[0] is kept
