"""``text_editor_code_execution``: view / create / str_replace on real files (reference §3.1).

Result ``content`` objects use exactly the SDK sub-types: ``…_view_result`` (``content``,
``file_type``, ``num_lines``, ``start_line``, ``total_lines``), ``…_create_result``
(``is_file_update``), ``…_str_replace_result`` (``old_start``/``old_lines``/``new_start``/
``new_lines``/``lines`` with ``-``/``+`` prefixed lines, as in recorded traffic), and
``…_tool_result_error`` with an SDK-literal ``error_code`` (``file_not_found``,
``invalid_tool_input``) and ``error_message``. The pre-2026 codes ``string_not_found`` and
``container_expired`` are not SDK literals and are never emitted (§3.2).

Runs in a worker thread (``asyncio.to_thread``): file I/O never blocks the event loop.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


def _error(code: str, message: str) -> dict[str, Any]:
    return {
        "type": "text_editor_code_execution_tool_result_error",
        "error_code": code,
        "error_message": message,
    }


def resolve_path(cwd: str, path: str) -> Path:
    """Relative paths are relative to the container's working directory; absolute paths are used
    as they are (the emulator has no filesystem isolation — see README LIMITS)."""
    p = Path(path)
    return p if p.is_absolute() else Path(cwd) / p


def run_edit(cwd: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    command = tool_input.get("command")
    raw_path = tool_input.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        return _error("invalid_tool_input", "`path` is required")
    path = resolve_path(cwd, raw_path)
    try:
        if command == "view":
            return _view(path, raw_path, tool_input.get("view_range"))
        if command == "create":
            return _create(path, tool_input.get("file_text"))
        if command == "str_replace":
            return _str_replace(path, raw_path, tool_input.get("old_str"), tool_input.get("new_str", ""))
    except IsADirectoryError:
        return _error("invalid_tool_input", f"{raw_path} is a directory")
    except PermissionError as exc:
        return _error("invalid_tool_input", f"Permission denied: {exc.filename or raw_path}")
    return _error("invalid_tool_input", f"Unknown command: {command}")


def _view(path: Path, raw: str, view_range: Any) -> dict[str, Any]:
    if not path.exists():
        return _error("file_not_found", f"File not found: {raw}")
    if path.is_dir():
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
        text = "\n".join(entries) + ("\n" if entries else "")
        n = len(entries)
        return _view_result(text, "text", n, 1, n)
    suffix = path.suffix.lower()
    if suffix in _IMAGE_EXT or suffix == ".pdf":
        data = base64.b64encode(path.read_bytes()).decode()
        return {
            "type": "text_editor_code_execution_view_result",
            "content": data,
            "file_type": "pdf" if suffix == ".pdf" else "image",
        }
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    total = len(lines)
    start, end = 1, total
    if view_range is not None:
        if (
            not isinstance(view_range, list)
            or len(view_range) != 2
            or not all(isinstance(v, int) for v in view_range)
        ):
            return _error("invalid_tool_input", "`view_range` must be a list of two integers")
        start = max(1, view_range[0])
        end = total if view_range[1] == -1 else min(total, view_range[1])
        if start > max(total, 1) or end < start:
            return _error(
                "invalid_tool_input", f"Invalid `view_range` {view_range} for a file of {total} lines"
            )
    shown = lines[start - 1 : end]
    return _view_result("".join(shown), "text", len(shown), start, total)


def _view_result(content: str, file_type: str, num: int, start: int, total: int) -> dict[str, Any]:
    return {
        "type": "text_editor_code_execution_view_result",
        "content": content,
        "file_type": file_type,
        "num_lines": num,
        "start_line": start,
        "total_lines": total,
    }


def _create(path: Path, file_text: Any) -> dict[str, Any]:
    if not isinstance(file_text, str):
        return _error("invalid_tool_input", "`file_text` is required for create")
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file_text, encoding="utf-8")
    return {"type": "text_editor_code_execution_create_result", "is_file_update": existed}


def _str_replace(path: Path, raw: str, old: Any, new: Any) -> dict[str, Any]:
    if not isinstance(old, str) or not old:
        return _error("invalid_tool_input", "`old_str` is required for str_replace")
    if not isinstance(new, str):
        return _error("invalid_tool_input", "`new_str` must be a string")
    if not path.exists():
        return _error("file_not_found", f"File not found: {raw}")
    text = path.read_text(encoding="utf-8", errors="replace")
    count = text.count(old)
    if count == 0:
        return _error(
            "invalid_tool_input",
            f"No replacement was performed, old_str `{old}` did not appear verbatim in {raw}.",
        )
    if count > 1:
        return _error(
            "invalid_tool_input",
            f"No replacement was performed. Multiple occurrences of old_str `{old}` in {raw}. "
            "Please ensure it is unique.",
        )
    at = text.index(old)
    # The diff covers the whole lines touched by the replacement.
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at + len(old))
    line_end = len(text) if line_end == -1 else line_end
    old_block = text[line_start:line_end]
    new_block = old_block.replace(old, new, 1)
    path.write_text(text[:line_start] + new_block + text[line_end:], encoding="utf-8")
    first = text.count("\n", 0, line_start) + 1
    old_lines = old_block.split("\n")
    new_lines = new_block.split("\n")
    return {
        "type": "text_editor_code_execution_str_replace_result",
        "old_start": first,
        "old_lines": len(old_lines),
        "new_start": first,
        "new_lines": len(new_lines),
        "lines": [f"-{line}" for line in old_lines] + [f"+{line}" for line in new_lines],
    }
