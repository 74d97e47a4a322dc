"""Checks every body the emulator returns against the installed SDK's own models.

The approach of the reference's ``anthropic_shapes.py``:

1. ``Model.model_validate(body)`` — types, required fields, literals;
2. a walk over every ``model_extra``: the SDK models accept unknown keys silently, so any key they
   do not declare is a failure unless allow-listed (``abort_reason``, seen in recorded traffic);
3. an exact JSON round trip: ``model_dump(mode="json", exclude_unset=True) == body``.

Messages are checked as both ``BetaMessage`` and GA ``Message``. Streams: every event is checked
as a ``BetaRawMessageStreamEvent`` (``text_delta``/``input_json_delta`` events after the first of
each block get an exact structural check instead: they differ only in their string), the event
order is checked, and the events are accumulated into a message that must equal the body the
emulator built and pass the message checks. Failures are emulator bugs: they are collected in
``emu.validation_failures`` and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pydantic
from anthropic.types import FileMetadata, Message, MessageTokensCount, ModelInfo
from anthropic.types.beta import BetaMessage, BetaRawMessageStreamEvent
from anthropic.types.deleted_file import DeletedFile
from anthropic.types.shared.error_response import ErrorResponse

log = logging.getLogger(__name__)

ALLOWED_EXTRAS = frozenset({"abort_reason"})
_EVENT = pydantic.TypeAdapter(BetaRawMessageStreamEvent)
_DELTA_KEYS = {"text_delta": "text", "input_json_delta": "partial_json"}


# Free-text fields: their value never decides validity. Every other string is part of the shape, so
# literals (``type``, ``stop_reason``, ``error_code``, ``name`` ...) are always checked; datetimes
# keep their length (pydantic's formatting drops zero microseconds, which the round trip catches).
_FREE_TEXT = frozenset(
    {
        "id",
        "text",
        "partial_json",
        "tool_use_id",
        "tool_id",
        "stdout",
        "stderr",
        "content",
        "file_id",
        "model",
        "message",
        "request_id",
        "explanation",
        "encrypted_stdout",
        "filename",
        "mime_type",
        "display_name",
        "error_message",
        "inference_geo",
        "stop_sequence",
        "first_id",
        "last_id",
        "next_page",
        "lines",
    }
)
_DATETIMES = frozenset({"expires_at", "created_at", "deprecated_at", "retires_at"})
_PASSED: set[Any] = set()
_PASSED_MAX = 100_000


def shape(value: Any, key: str = "") -> Any:
    """A hashable summary of ``value`` that determines whether it validates: keys, value types, and
    the values of every non-free-text string. Bodies with a known-good shape skip pydantic (that is
    what lets validation keep up with 1,000 concurrent streams)."""
    if isinstance(value, dict):
        return tuple((k, shape(v, k)) for k, v in value.items())
    if isinstance(value, list):
        return ("[", key, *(shape(v) for v in value))
    if isinstance(value, str):
        if key in _FREE_TEXT:
            return "s"
        return ("dt", len(value)) if key in _DATETIMES else value
    return type(value)


def _remember(key: Any) -> None:
    if len(_PASSED) >= _PASSED_MAX:
        _PASSED.clear()
    _PASSED.add(key)


def collect_extras(obj: Any, path: str = "") -> set[str]:
    """Every key the SDK models did not declare, as a dotted path."""
    found: set[str] = set()
    if isinstance(obj, pydantic.BaseModel):
        for key in obj.model_extra or {}:
            found.add(f"{path}.{key}" if path else key)
        for name in type(obj).model_fields:
            found |= collect_extras(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            found |= collect_extras(item, f"{path}[{i}]")
    return found


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: added by dump")
            elif k not in b:
                out.append(f"{path}.{k}: missing in dump")
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diff(x, y, f"{path}[{i}]")]
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return [f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def check_model(
    body: Any, model_cls: type[pydantic.BaseModel], allowed_extras: frozenset[str] = ALLOWED_EXTRAS
) -> list[str]:
    """Problems with ``body`` as an instance of ``model_cls`` (empty list: it passes)."""
    key = (model_cls, allowed_extras, shape(body))
    if key in _PASSED:
        return []
    try:
        model = model_cls.model_validate(body)  # pydantic does not mutate its input
    except pydantic.ValidationError as exc:
        return [f"{model_cls.__name__}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"]
    problems = _extras_and_round_trip(model, body, model_cls.__name__, allowed_extras)
    if not problems:
        _remember(key)
    return problems


def _extras_and_round_trip(
    model: pydantic.BaseModel, body: Any, name: str, allowed: frozenset[str]
) -> list[str]:
    problems = [
        f"{name}: undeclared field {path}"
        for path in sorted(collect_extras(model))
        if path.rsplit(".", 1)[-1] not in allowed
    ]
    problems += [
        f"{name}: round trip {d}" for d in diff(body, model.model_dump(mode="json", exclude_unset=True))
    ]
    return problems


def check_message(body: dict[str, Any]) -> list[str]:
    # `context_management` (beta-only, echoed when the request used it) is no GA field.
    return check_model(body, BetaMessage) + check_model(
        body, Message, ALLOWED_EXTRAS | {"context_management"}
    )


def check_error(body: dict[str, Any]) -> list[str]:
    if body.get("error", {}).get("type") == "request_too_large":
        # Documented 413 type the SDK's ErrorType literal lacks: check the envelope only.
        ok = set(body) <= {"type", "error", "request_id"} and body.get("type") == "error"
        return [] if ok else [f"error body shape: {sorted(body)}"]
    return check_model(body, ErrorResponse, ALLOWED_EXTRAS | {"details"})


def check_stream(events: list[dict[str, Any]], final: dict[str, Any] | None) -> list[str]:
    """Events validate one by one, come in a legal order, and accumulate to ``final``."""
    problems: list[str] = []
    sampled: set[tuple[int, str]] = set()
    for n, ev in enumerate(events):
        if ev.get("type") == "error":
            if n != len(events) - 1:
                problems.append("stream: events after an error event")
            problems += [f"stream error event: {p}" for p in check_error(ev)]
            continue
        if ev.get("type") == "content_block_delta":
            delta = ev.get("delta", {})
            key = (ev.get("index", -1), delta.get("type", ""))
            if key in sampled:
                field = _DELTA_KEYS.get(key[1])
                if (
                    field is None
                    or len(ev) != 3
                    or len(delta) != 2
                    or not isinstance(delta.get(field), str)
                    or not isinstance(ev.get("index"), int)
                ):
                    problems.append(f"stream event {n}: malformed delta {json.dumps(ev)[:200]}")
                continue
            sampled.add(key)
        ev = _with_documented_input(ev)
        key = ("event", shape(ev))
        if key in _PASSED:
            continue
        try:
            model = _EVENT.validate_python(ev)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            problems.append(f"stream event {n} ({ev.get('type')}): {err['loc']}: {err['msg']}")
            continue
        event_problems = _extras_and_round_trip(model, ev, ev["type"], ALLOWED_EXTRAS)
        problems += [f"stream event {n}: {p}" for p in event_problems]
        if not event_problems:
            _remember(key)
    accumulated, order_problems = _accumulate(events)
    problems += order_problems
    if final is not None and accumulated is not None:
        problems += [f"stream accumulation: {d}" for d in diff(final, accumulated)]
        problems += [f"stream final message: {p}" for p in check_message(accumulated)]
    return problems


_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


def _with_documented_input(ev: dict[str, Any]) -> dict[str, Any]:
    """A tool block may start without ``input``, as in the code-execution docs' streaming example,
    although the SDK's model requires the field: it is checked as if it carried ``input: {}``."""
    if ev.get("type") != "content_block_start":
        return ev
    block = ev.get("content_block") or {}
    if block.get("type") not in _TOOL_BLOCKS or "input" in block:
        return ev
    return {**ev, "content_block": {**block, "input": {}}}


def _accumulate(events: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[str]]:
    """What a client accumulates from the events (the SDK's ``accumulate_event`` rules)."""
    problems: list[str] = []
    if not events or events[0].get("type") != "message_start":
        return None, ["stream: first event is not message_start"]
    msg = _copy(events[0]["message"])
    if "container" in msg:
        problems.append(
            "stream: message_start carries a container (recorded streams put it on message_delta)"
        )
    buffers: dict[int, str] = {}
    open_blocks: set[int] = set()
    ended = False
    for ev in events[1:]:
        kind = ev.get("type")
        if ended:
            problems.append(f"stream: {kind} after message_stop")
        if kind == "content_block_start":
            index = ev["index"]
            if index != len(msg["content"]):
                problems.append(f"stream: block index {index} out of order")
            msg["content"].append(_copy(ev["content_block"]))
            open_blocks.add(index)
        elif kind == "content_block_delta":
            index, delta = ev["index"], ev["delta"]
            if index not in open_blocks:
                problems.append(f"stream: delta for block {index} that is not open")
                continue
            if delta["type"] == "text_delta":
                msg["content"][index]["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                buffers[index] = buffers.get(index, "") + delta["partial_json"]
            elif delta["type"] == "citations_delta":
                msg["content"][index].setdefault("citations", []).append(delta["citation"])
        elif kind == "content_block_stop":
            index = ev["index"]
            open_blocks.discard(index)
            block = msg["content"][index]
            if buffers.get(index):
                block["input"] = json.loads(buffers[index])
            elif block.get("type") in _TOOL_BLOCKS:
                block.setdefault("input", {})  # a call without arguments (anthropic-sdk-java#382)
        elif kind == "message_delta":
            delta = ev["delta"]
            for key in ("stop_reason", "stop_sequence", "stop_details"):
                msg[key] = delta.get(key)
            if delta.get("container") is not None:
                msg["container"] = delta["container"]
            if ev.get("context_management") is not None:
                msg["context_management"] = ev["context_management"]
            for key, value in ev["usage"].items():
                if value is not None:
                    msg["usage"][key] = value
        elif kind == "message_stop":
            ended = True
        elif kind == "error":
            return None, problems
    if open_blocks:
        problems.append(f"stream: blocks never stopped: {sorted(open_blocks)}")
    if not ended:
        problems.append("stream: no message_stop")
    return msg, problems


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (several times faster than ``copy.deepcopy``)."""
    return json.loads(json.dumps(value))


class Validator:
    """Runs the checks and records failures (``emu.validation_failures``)."""

    def __init__(self, record: Callable[[str], None]) -> None:
        self._record = record

    def _report(self, context: str, problems: list[str]) -> None:
        for p in problems:
            message = f"{context}: {p}"
            log.error("anthropic emulator response validation failed: %s", message)
            self._record(message)

    def message(self, context: str, body: dict[str, Any]) -> None:
        self._report(context, check_message(body))

    def stream(self, context: str, events: list[dict[str, Any]], final: dict[str, Any] | None) -> None:
        self._report(context, check_stream(events, final))

    def error(self, context: str, body: dict[str, Any]) -> None:
        self._report(context, check_error(body))

    def file_metadata(self, context: str, body: dict[str, Any], legacy: bool) -> None:
        if legacy:
            from anthropic.types.beta import BetaFileMetadata

            self._report(context, check_model(body, BetaFileMetadata))
        else:
            self._report(context, check_model(body, FileMetadata))

    def file_list(self, context: str, body: dict[str, Any], legacy: bool) -> None:
        keys = {"data", "has_more", "first_id", "last_id"} if legacy else {"data", "next_page"}
        if set(body) != keys:
            self._report(context, [f"list page keys {sorted(body)} != {sorted(keys)}"])
        for i, item in enumerate(body.get("data", [])):
            self.file_metadata(f"{context} data[{i}]", item, legacy)

    def deleted_file(self, context: str, body: dict[str, Any]) -> None:
        self._report(context, check_model(body, DeletedFile))

    def model_info(self, context: str, body: dict[str, Any]) -> None:
        self._report(context, check_model(body, ModelInfo))

    def model_list(self, context: str, body: dict[str, Any]) -> None:
        if set(body) != {"data", "has_more", "first_id", "last_id"}:
            self._report(context, [f"model page keys {sorted(body)}"])
        for i, item in enumerate(body.get("data", [])):
            self.model_info(f"{context} data[{i}]", item)

    def token_count(self, context: str, body: dict[str, Any]) -> None:
        self._report(context, check_model(body, MessageTokensCount))

    def skills_body(self, context: str, body: dict[str, Any]) -> None:
        """Skills API bodies: checked as the GA and the beta models (``types/skill.py`` ...)."""
        from anthropic.types import DeletedSkill, Skill
        from anthropic.types.beta import BetaDeletedSkill, BetaSkill
        from anthropic.types.beta.skills import BetaDeletedSkillVersion, BetaSkillVersion
        from anthropic.types.skills import DeletedSkillVersion, SkillVersion

        models: dict[str, tuple[type[pydantic.BaseModel], ...]] = {
            "skill": (Skill, BetaSkill),
            "skill_version": (SkillVersion, BetaSkillVersion),
            "skill_deleted": (DeletedSkill, BetaDeletedSkill),
            "skill_version_deleted": (DeletedSkillVersion, BetaDeletedSkillVersion),
        }
        if "data" in body:
            if set(body) != {"data", "next_page"}:
                self._report(context, [f"list page keys {sorted(body)}"])
            for i, item in enumerate(body["data"]):
                self.skills_body(f"{context} data[{i}]", item)
            return
        for model_cls in models.get(str(body.get("type")), ()):
            self._report(context, check_model(body, model_cls))
        if str(body.get("type")) not in models:
            self._report(context, [f"unknown skills body type {body.get('type')!r}"])
