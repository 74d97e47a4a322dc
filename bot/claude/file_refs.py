"""Files API ids inside a conversation: which ones a request carries, and leaving out deleted ones.

A thread's history keeps the blocks that brought files in (`container_upload`, and `image` /
`document` blocks whose `source` is `{"type": "file", "file_id"}`) and the ids of files the
sandbox made (`*_output` entries in code execution results). Once the bot deletes a file
(FILE_RETENTION_DAYS), the Files API no longer knows it ("Delete a file: make it inaccessible
through the API", https://platform.claude.com/docs/en/api/files-delete), so a request that still
names it fails, and every later request of the thread with it. Pure functions, dicts in and out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Block = dict[str, Any]
Message = dict[str, Any]

_RESULT_TYPES = frozenset({"bash_code_execution_tool_result", "code_execution_tool_result"})


def _block_file_id(block: Block) -> str | None:
    kind = block.get("type")
    if kind == "container_upload":
        file_id = block.get("file_id")
        return file_id if isinstance(file_id, str) else None
    if kind in ("image", "document"):
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "file":
            file_id = source.get("file_id")
            return file_id if isinstance(file_id, str) else None
    return None


def _output_ids(block: Block) -> Iterator[str]:
    if block.get("type") in _RESULT_TYPES and isinstance(block.get("content"), dict):
        for item in block["content"].get("content") or []:
            if isinstance(item, dict) and isinstance(item.get("file_id"), str):
                yield item["file_id"]


def _blocks(messages: Sequence[Message]) -> Iterator[Block]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            yield from (b for b in content if isinstance(b, dict))


def referenced_file_ids(messages: Sequence[Message]) -> list[str]:
    """Every Files API id the messages name, in order, without repeats."""
    found: dict[str, None] = {}
    for block in _blocks(messages):
        file_id = _block_file_id(block)
        if file_id is not None:
            found[file_id] = None
        for output in _output_ids(block):
            found[output] = None
    return list(found)


def without_deleted_files(messages: Sequence[Message], deleted: Mapping[str, str]) -> list[Message]:
    """`messages` with no trace of the `deleted` file ids (id -> file name).

    An attachment block becomes a short text saying which file was there, so Claude still knows
    what the conversation was about (the copy in a living sandbox's $INPUT_DIR is not affected); a
    produced file's id is dropped from its code result. Messages without such blocks are returned
    as they are (same objects: the prompt prefix, and so the cache, does not move)."""
    if not deleted:
        return list(messages)
    out: list[Message] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or not any(_mentions(b, deleted) for b in content):
            out.append(message)
            continue
        uploads = {
            b.get("file_id") for b in content if isinstance(b, dict) and b.get("type") == "container_upload"
        }
        blocks: list[Block] = []
        for block in content:
            if not isinstance(block, dict) or not _mentions(block, deleted):
                blocks.append(block)
                continue
            file_id = _block_file_id(block)
            if file_id is not None:
                # One line per file: an image or PDF shown to Claude also came as a container_upload.
                if block.get("type") == "container_upload" or file_id not in uploads:
                    name = deleted[file_id] or file_id
                    blocks.append(
                        {"type": "text", "text": f"[attachment `{name}`: since deleted by the bot]"}
                    )
                continue
            result = dict(block["content"])
            result["content"] = [
                item
                for item in result.get("content") or []
                if not (isinstance(item, dict) and item.get("file_id") in deleted)
            ]
            blocks.append({**block, "content": result})
        out.append({**message, "content": blocks})
    return out


def _mentions(block: Any, deleted: Mapping[str, str]) -> bool:
    if not isinstance(block, dict):
        return False
    file_id = _block_file_id(block)
    return (file_id is not None and file_id in deleted) or any(o in deleted for o in _output_ids(block))
