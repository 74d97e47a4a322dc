"""conversations.replies/history/info/open, users.info, reactions.add/remove/get (§9, §5.4)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from .api_base import ApiCall, ApiError, MethodSpec, Params, conversation_scope, get_channel, require_member
from .ids import is_ts, ts_to_micros
from .models import JSON, Channel, Message
from .payloads import channel_json, message_json, user_json

if TYPE_CHECKING:
    from .core import Core


def _cursor(ts: str) -> str:
    # Slack's cursors are opaque base64 ("bmV4dF90czox…" = "next_ts:1…", api-ref example).
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _from_cursor(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    kind, _, ts = decoded.partition(":")
    if kind != "next_ts" or not is_ts(ts):
        raise ApiError("invalid_cursor")
    return ts


def _time_filter(params: Params, messages: list[Message]) -> list[Message]:
    oldest = params.text("oldest")
    latest = params.text("latest")
    inclusive = params.flag("inclusive")
    try:
        low = ts_to_micros(oldest) if oldest else None
    except ValueError:
        raise ApiError("invalid_ts_oldest") from None
    try:
        high = ts_to_micros(latest) if latest else None
    except ValueError:
        raise ApiError("invalid_ts_latest") from None

    def keep(message: Message) -> bool:
        value = ts_to_micros(message.ts)
        if low is not None and (value < low or (value == low and not inclusive)):
            return False
        return not (high is not None and (value > high or (value == high and not inclusive)))

    return [m for m in messages if keep(m)]


def _readable_channel(core: Core, call: ApiCall) -> Channel:
    channel = get_channel(core, call)
    require_member(core, call, channel)  # bot tokens read history only where they are members
    return channel


def _listed(core: Core, call: ApiCall, message: Message) -> JSON:
    """A message as a history method lists it: its message metadata only with `include_all_metadata`
    (docs.slack.dev/reference/methods/conversations.history, `include_all_metadata`, default false)."""
    out = message_json(core, message)
    if not call.params.flag("include_all_metadata"):
        out.pop("metadata", None)
    return out


def _page(core: Core, call: ApiCall, messages: list[Message], default_limit: int) -> JSON:
    limit = max(1, min(1000, call.params.number("limit", default_limit)))
    cursor = call.params.text("cursor")
    if cursor is not None:
        start_ts = _from_cursor(cursor)
        messages = [m for m in messages if ts_to_micros(m.ts) >= ts_to_micros(start_ts)]
    page, rest = messages[:limit], messages[limit:]
    return {
        "ok": True,
        "messages": [_listed(core, call, m) for m in page],
        "has_more": bool(rest),
        "response_metadata": {"next_cursor": _cursor(rest[0].ts) if rest else ""},
    }


async def replies(core: Core, call: ApiCall) -> JSON:
    """Root first, then replies; later pages do not repeat the root (see README LIMITS)."""
    channel = _readable_channel(core, call)
    ts = call.params.require("ts", "thread_not_found")
    root = core.ws.root_of(channel.id, ts)
    if root is None:
        raise ApiError("thread_not_found")
    thread = core.ws.thread(channel.id, root.ts)
    replies_only = _time_filter(call.params, thread[1:])
    messages = [thread[0], *replies_only]
    if call.params.text("cursor") is not None:
        messages = replies_only
    return _page(core, call, messages, 1000)


async def history(core: Core, call: ApiCall) -> JSON:
    """Top-level messages (and broadcasts), newest first."""
    channel = _readable_channel(core, call)
    messages = list(reversed(_time_filter(call.params, core.ws.top_level(channel.id))))
    limit = max(1, min(1000, call.params.number("limit", 100)))
    cursor = call.params.text("cursor")
    if cursor is not None:
        start = ts_to_micros(_from_cursor(cursor))
        messages = [m for m in messages if ts_to_micros(m.ts) <= start]
    page, rest = messages[:limit], messages[limit:]
    return {
        "ok": True,
        "messages": [_listed(core, call, m) for m in page],
        "has_more": bool(rest),
        "pin_count": 0,
        "response_metadata": {"next_cursor": _cursor(rest[0].ts) if rest else ""},
    }


async def info(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call)
    return {"ok": True, "channel": channel_json(channel, call.principal)}


async def open_conversation(core: Core, call: ApiCall) -> JSON:
    users = [u for u in (call.params.text("users") or "").split(",") if u]
    if not users:
        raise ApiError("users_list_not_supplied")
    for user in users:
        if user not in core.ws.users:
            raise ApiError("user_not_found")
    channel = core.ws.dm(users[0]) if len(users) == 1 else core.ws.mpim([call.principal, *users])
    return {"ok": True, "channel": {"id": channel.id}}


async def users_info(core: Core, call: ApiCall) -> JSON:
    user_id = call.params.require("user", "user_not_found")
    user = core.ws.users.get(user_id)
    if user is None:
        raise ApiError("user_not_found")
    return {"ok": True, "user": user_json(user)}


def _reaction_target(core: Core, call: ApiCall) -> tuple[Message, str]:
    channel = get_channel(core, call)
    require_member(core, call, channel)
    ts = call.params.require("timestamp", "bad_timestamp")
    message = channel.messages.get(ts)
    if message is None:
        raise ApiError("message_not_found")
    name = (call.params.text("name") or "").strip(":")
    if not name:
        raise ApiError("invalid_name")
    return message, name


async def reactions_add(core: Core, call: ApiCall) -> JSON:
    message, name = _reaction_target(core, call)
    users = message.reactions.setdefault(name, [])
    if call.principal in users:
        raise ApiError("already_reacted")
    users.append(call.principal)
    core.notify()
    return {"ok": True}


async def reactions_remove(core: Core, call: ApiCall) -> JSON:
    message, name = _reaction_target(core, call)
    users = message.reactions.get(name, [])
    if call.principal not in users:
        raise ApiError("no_reaction")
    users.remove(call.principal)
    if not users:
        del message.reactions[name]
    core.notify()
    return {"ok": True}


async def reactions_get(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call)
    ts = call.params.require("timestamp", "bad_timestamp")
    message = channel.messages.get(ts)
    if message is None:
        raise ApiError("message_not_found")
    return {"ok": True, "type": "message", "channel": channel.id, "message": message_json(core, message)}


METHODS: dict[str, MethodSpec] = {
    "conversations.replies": MethodSpec(replies, conversation_scope("history")),
    "conversations.history": MethodSpec(history, conversation_scope("history")),
    "conversations.info": MethodSpec(info, conversation_scope("read")),
    "conversations.open": MethodSpec(open_conversation, ("im:write",), channel_param=None),
    "users.info": MethodSpec(users_info, ("users:read",), channel_param=None),
    "reactions.add": MethodSpec(reactions_add, ("reactions:write",)),
    "reactions.remove": MethodSpec(reactions_remove, ("reactions:write",)),
    "reactions.get": MethodSpec(reactions_get, ("reactions:read",)),
}
