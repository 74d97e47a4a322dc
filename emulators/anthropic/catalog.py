"""The model catalogue behind ``/v1/models`` and the ``model`` check of ``/v1/messages``.

Ids are the literals of the SDK's ``anthropic.types.Model``; anything else is a 404
``not_found_error`` with message ``model: <id>`` (the real API's wording). Release dates are known
only for the three dated ids; the others carry the epoch, which ``ModelInfo.created_at``'s docstring
allows for unknown dates. Capabilities are uniform (every listed model is treated as supporting code
execution and programmatic tool calling).
"""

from __future__ import annotations

import re
import typing
from typing import Any

from anthropic.types import Model

from .errors import ApiError

MAX_OUTPUT_TOKENS = 128_000
_DATES = {
    "claude-haiku-4-5-20251001": "2025-10-01T00:00:00Z",
    "claude-opus-4-5-20251101": "2025-11-01T00:00:00Z",
    "claude-sonnet-4-5-20250929": "2025-09-29T00:00:00Z",
}
_EPOCH = "1970-01-01T00:00:00Z"


def _model_ids() -> tuple[str, ...]:
    literal = next(a for a in typing.get_args(Model) if typing.get_origin(a) is typing.Literal)
    return tuple(typing.get_args(literal))


MODEL_IDS: tuple[str, ...] = _model_ids()


def _display_name(model_id: str) -> str:
    base = re.sub(r"-\d{8}$", "", model_id).removeprefix("claude-")
    words = base.split("-")
    name = [w.capitalize() for w in words if not w.isdigit()]
    version = ".".join(w for w in words if w.isdigit())
    return "Claude " + " ".join(name) + (f" {version}" if version else "")


def _supported(flag: bool = True) -> dict[str, bool]:
    return {"supported": flag}


def model_info(model_id: str, context_window: int) -> dict[str, Any]:
    line = next((w for w in ("haiku", "sonnet", "opus", "fable", "mythos") if w in model_id), None)
    return {
        "id": model_id,
        "capabilities": {
            "batch": _supported(),
            "citations": _supported(),
            "code_execution": _supported(),
            "context_management": {
                "clear_thinking_20251015": _supported(),
                "clear_tool_uses_20250919": _supported(),
                "compact_20260112": _supported(),
                "supported": True,
            },
            "effort": {
                "high": _supported(),
                "low": _supported(),
                "max": _supported(),
                "medium": _supported(),
                "supported": True,
            },
            "image_input": _supported(),
            "pdf_input": _supported(),
            "server_tools": {"code_execution": _supported(), "supported": True, "web_search": _supported()},
            "structured_outputs": _supported(),
            "thinking": {
                "supported": True,
                "types": {
                    "adaptive": _supported(),
                    "between_tools": _supported(False),
                    "disabled": _supported(),
                    "enabled": _supported(),
                },
            },
        },
        "created_at": _DATES.get(model_id, _EPOCH),
        "deprecated_at": None,
        "display_name": _display_name(model_id),
        "lifecycle": "active",
        "line": line,
        "max_input_tokens": context_window,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "retires_at": None,
        "type": "model",
    }


def check_model(model_id: str) -> None:
    if model_id not in MODEL_IDS:
        raise ApiError(404, f"model: {model_id}")


def list_page(context_window: int, limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
    """``/v1/models`` page: ``{data, has_more, first_id, last_id}`` (the SDK's ``SyncPage``)."""
    ids = list(MODEL_IDS)
    if after_id in ids:
        ids = ids[ids.index(after_id) + 1 :]
    elif before_id in ids:
        ids = ids[: ids.index(before_id)][-limit:]
    data = [model_info(m, context_window) for m in ids[:limit]]
    return {
        "data": data,
        "has_more": len(ids) > limit,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
