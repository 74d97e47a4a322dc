"""chat.startStream / chat.appendStream / chat.stopStream (§5.2-5.3).

A stream is a bot message in state `streaming` until `stopStream` (then `completed`). Slack ends a
stream on its own `stream_expiry_s` after it started, appends or not (300 s by default: "a stream is
automatically closed after approximately 5 minutes, even if we continue sending updates via
chat.appendStream", slackapi/node-slack-sdk#2702; "undocumented timeouts", slackapi/python-slack-sdk
#1859): it is then `expired`, left as it was ("stuck as a broken pill", python-slack-sdk#1880), and
appends and stops fail with `message_not_in_streaming_state`. Each call carries ≤12,000 chars of
markdown, and the whole message is limited by stream_size.py (`msg_too_long`). Chunks:
`markdown_text` (appended), `task_update` (title/status replaced, details/output appended, sources
accumulated), `plan_update` (title replaced), `blocks` (appended).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api_base import BOT_ONLY, ApiCall, ApiError, MethodSpec, get_channel, require_member, require_writable
from .api_misc import AGENT_SESSION_STATUSES
from .blocks import validate_blocks
from .constants import MAX_MARKDOWN_CHARS, TEAM_ID
from .messaging import new_bot_message, publish_bot_message, resolve_thread_ts
from .models import JSON, Message, StreamState, TaskCard
from .side_effects import stream_effects
from .stream_size import too_big

if TYPE_CHECKING:
    from .core import Core

TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})


def parse_chunks(value: Any) -> list[JSON]:
    """Validate `chunks` (SDK models in `slack_sdk/models/messages/chunk.py`); `invalid_chunks` if bad."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError("invalid_chunks")
    for chunk in value:
        if not isinstance(chunk, dict):
            raise ApiError("invalid_chunks")
        kind = chunk.get("type")
        if kind == "markdown_text":
            ok = isinstance(chunk.get("text"), str)
        elif kind == "task_update":
            ok = (
                isinstance(chunk.get("id"), str)
                and bool(chunk["id"])
                and isinstance(chunk.get("title"), str)
                and chunk.get("status") in TASK_STATUSES
                and isinstance(chunk.get("sources") or [], list)
            )
        elif kind == "plan_update":
            ok = isinstance(chunk.get("title"), str)
        elif kind == "blocks":
            ok = validate_blocks(chunk.get("blocks")) is None
        else:
            ok = False
        if not ok:
            raise ApiError("invalid_chunks")
    return value


def _markdown_length(markdown: str | None, chunks: list[JSON]) -> int:
    return len(markdown or "") + sum(len(c["text"]) for c in chunks if c["type"] == "markdown_text")


def _apply(stream: StreamState, markdown: str | None, chunks: list[JSON]) -> None:
    if markdown:
        stream.markdown.append(markdown)
        stream.chunks.append({"type": "markdown_text", "text": markdown})
    for chunk in chunks:
        stream.chunks.append(chunk)
        kind = chunk["type"]
        if kind == "markdown_text":
            stream.markdown.append(chunk["text"])
        elif kind == "task_update":
            card = stream.tasks.setdefault(chunk["id"], TaskCard(chunk["id"]))
            card.title = chunk.get("title") or card.title
            card.status = chunk.get("status") or card.status
            card.details += chunk.get("details") or ""
            card.output += chunk.get("output") or ""
            for source in chunk.get("sources") or []:
                if source not in card.sources:
                    card.sources.append(source)
        elif kind == "plan_update":
            stream.plan_title = chunk["title"]
        elif kind == "blocks":
            stream.blocks.extend(chunk["blocks"])


def _with_markdown(markdown: str | None, chunks: list[JSON]) -> list[JSON]:
    return [{"type": "markdown_text", "text": markdown}, *chunks] if markdown else chunks


def _content(call: ApiCall) -> tuple[str | None, list[JSON]]:
    markdown = call.params.text("markdown_text")
    chunks = parse_chunks(call.params.structured("chunks", "invalid_chunks"))
    if _markdown_length(markdown, chunks) > MAX_MARKDOWN_CHARS:
        raise ApiError("msg_too_long")
    return markdown, chunks


async def start_stream(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call)
    require_writable(channel)
    require_member(core, call, channel, public_write=True)
    thread_ts = resolve_thread_ts(core, channel, call.params.text("thread_ts"))
    recipient_user = call.params.text("recipient_user_id")
    recipient_team = call.params.text("recipient_team_id")
    if channel.kind != "im":
        # §5.2: required when streaming to channels.
        if recipient_user is None:
            raise ApiError("missing_recipient_user_id")
        if recipient_team is None:
            raise ApiError("missing_recipient_team_id")
    if recipient_user is not None and recipient_user not in core.ws.users:
        raise ApiError("user_not_found")
    # The recipient's own team, not the app's: a stream to a Slack Connect user under the workspace's
    # team fails (timescale/tiger-agents-for-work#231, "stream to correct team"; the error name is not
    # published: invalid_arguments, Slack's answer to a bad argument).
    if (
        recipient_user is not None
        and recipient_team is not None
        and recipient_team != (core.ws.users[recipient_user].team_id or TEAM_ID)
    ):
        raise ApiError("invalid_arguments")
    markdown, chunks = _content(call)
    stream = StreamState(
        phase="streaming",
        started_at=core.now(),
        recipient_user_id=recipient_user,
        recipient_team_id=recipient_team,
        task_display_mode=call.params.text("task_display_mode") or "timeline",
    )
    _check_size(stream, markdown, chunks)
    _apply(stream, markdown, chunks)
    message = new_bot_message(core, channel, thread_ts=thread_ts)
    message.stream = stream
    await publish_bot_message(core, message)
    stream_effects(core, message, _with_markdown(markdown, chunks))
    if core.settings.stream_expiry_s is not None:
        core.call_later(core.settings.stream_expiry_s, lambda: _expire(core, stream))
    return {"ok": True, "channel": channel.id, "ts": message.ts}


def _expire(core: Core, stream: StreamState) -> None:
    if stream.phase == "streaming":
        stream.phase = "expired"
        stream.stopped_at = core.now()
        core.notify()


def _check_size(stream: StreamState, markdown: str | None, chunks: list[JSON]) -> None:
    if too_big(stream, markdown, chunks):
        raise ApiError("msg_too_long")


def _streaming_message(core: Core, call: ApiCall) -> Message:
    channel = get_channel(core, call)
    ts = call.params.require("ts", "message_not_found")
    message = channel.messages.get(ts)
    if message is None:
        raise ApiError("message_not_found")
    if message.user != call.principal:
        raise ApiError("message_not_owned_by_app")
    stream = message.stream
    if stream is not None and stream.phase == "stopped_by_user":
        raise ApiError("stopped_by_user")
    if stream is None or stream.phase != "streaming":
        raise ApiError("message_not_in_streaming_state")
    expiry = core.settings.stream_expiry_s
    if expiry is not None and core.now() - stream.started_at > expiry:
        _expire(core, stream)  # also for a stream started before the knob was lowered
        raise ApiError("message_not_in_streaming_state")
    return message


async def append_stream(core: Core, call: ApiCall) -> JSON:
    message = _streaming_message(core, call)
    markdown, chunks = _content(call)
    if not markdown and not chunks:
        raise ApiError("no_text")
    assert message.stream is not None
    _check_size(message.stream, markdown, chunks)
    _apply(message.stream, markdown, chunks)
    stream_effects(core, message, _with_markdown(markdown, chunks))
    message.stream.appends += 1
    core.notify()
    return {"ok": True, "channel": message.channel, "ts": message.ts}


async def stop_stream(core: Core, call: ApiCall) -> JSON:
    message = _streaming_message(core, call)
    markdown, chunks = _content(call)
    blocks: Any = call.params.structured("blocks", "invalid_blocks_format")
    if blocks is not None and (error := validate_blocks(blocks)) is not None:
        raise ApiError(error)
    metadata = call.params.structured("metadata", "invalid_metadata_format")
    stream = message.stream
    assert stream is not None
    _check_size(stream, markdown, chunks)
    _apply(stream, markdown, chunks)
    if blocks:
        stream.blocks.extend(blocks)  # rendered at the bottom of the finalized message
    stream_effects(core, message, _with_markdown(markdown, chunks), blocks or [])
    if isinstance(metadata, dict):
        message.metadata = metadata
    session = (message.channel, message.thread_ts or message.ts)
    session_status = call.params.text("session_status")
    if session_status in AGENT_SESSION_STATUSES and session in core.ws.agent_sessions:
        # "Transition the session away from processing using ... chat.stopStream" (agent_session_stopped docs).
        core.ws.agent_sessions[session] = session_status
    stream.phase = "completed"
    stream.stopped_at = core.now()
    core.notify()
    body: JSON = {
        "text": stream.text,
        "bot_id": message.bot_id,
        "ts": message.ts,
        "type": "message",
        "subtype": "bot_message",
    }
    return {"ok": True, "channel": message.channel, "ts": message.ts, "message": body}


METHODS: dict[str, MethodSpec] = {
    "chat.startStream": MethodSpec(start_stream, ("chat:write",), token_kinds=BOT_ONLY),
    "chat.appendStream": MethodSpec(append_stream, ("chat:write",), token_kinds=BOT_ONLY),
    "chat.stopStream": MethodSpec(stop_stream, ("chat:write",), token_kinds=BOT_ONLY),
}
