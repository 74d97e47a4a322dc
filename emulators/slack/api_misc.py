"""auth.test, apps.connections.open, the assistant.threads.* methods and agents.sessions.setStatus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api_base import APP_ONLY, BOT_ONLY, ApiCall, ApiError, MethodSpec, get_channel
from .constants import TEAM_ID, TEAM_NAME, WORKSPACE_URL
from .models import JSON, StatusEntry

if TYPE_CHECKING:
    from .core import Core


async def auth_test(core: Core, call: ApiCall) -> JSON:
    """Bolt reads user_id (the bot user), bot_id, team_id and the `x-oauth-scopes` header (§1.1)."""
    user = core.ws.user(call.principal)
    out: JSON = {"ok": True, "url": WORKSPACE_URL, "team": TEAM_NAME, "user": user.name, "team_id": TEAM_ID}
    out["user_id"] = user.id
    if call.is_bot:
        out["bot_id"] = user.bot_id
    out["is_enterprise_install"] = False
    return out


async def apps_connections_open(core: Core, call: ApiCall) -> JSON:
    return {"ok": True, "url": core.socket.issue_url()}


async def set_status(core: Core, call: ApiCall) -> JSON:
    """assistant.threads.setStatus: any channel thread with chat:write since 2026-03-05 (§5.1)."""
    channel = get_channel(core, call, "channel_id")
    thread_ts = call.params.text("thread_ts")
    if thread_ts is None or core.ws.message(channel.id, thread_ts) is None:
        raise ApiError("invalid_thread_ts")
    if "status" not in call.params.values:
        raise ApiError("invalid_arguments")
    status = call.params.text("status") or ""
    loading = call.params.structured("loading_messages", "invalid_arguments")
    loading_messages = [str(m) for m in loading] if isinstance(loading, list) else None
    entry = StatusEntry(core.now(), status, loading_messages, "api")
    core.ws.record_status(channel.id, thread_ts, entry)
    if status:
        expiry = core.settings.status_expiry_s

        def expire() -> None:
            history = core.ws.status_history(channel.id, thread_ts)
            if history and history[-1] is entry:
                # §5.1: a status left alone for two minutes clears itself.
                core.ws.record_status(channel.id, thread_ts, StatusEntry(core.now(), "", None, "expired"))

        core.call_later(expiry, expire)
    return {"ok": True}


AGENT_SESSION_STATUSES = frozenset({"active", "processing", "suspended", "closed"})


async def set_agent_session_status(core: Core, call: ApiCall) -> JSON:
    """agents.sessions.setStatus creates the thread's agent session if needed and sets its status
    (docs.slack.dev/reference/methods/agents.sessions.setStatus). Only while a session is
    `processing` does Slack show its own stop button (docs.slack.dev/reference/events/
    agent_session_stopped; see person.press_native_stop); without an agent_session_stopped
    subscription the answer warns `missing_agent_session_stopped_event_subscription`."""
    channel = get_channel(core, call, "channel_id")
    thread_ts = call.params.text("thread_ts")
    if thread_ts is None or core.ws.message(channel.id, thread_ts) is None:
        raise ApiError("invalid_thread_ts")
    status = call.params.require("status", "invalid_arguments")
    if status not in AGENT_SESSION_STATUSES:
        raise ApiError("invalid_arguments")
    core.ws.agent_sessions[(channel.id, thread_ts)] = status
    core.notify()
    out: JSON = {"ok": True, "status": status}
    if status == "processing" and not core.events.subscribed("agent_session_stopped"):
        out["warning"] = "missing_agent_session_stopped_event_subscription"
    return out


async def set_title(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call, "channel_id")
    title = call.params.require("title", "invalid_arguments")
    core.ws.assistant_titles[(channel.id, call.params.text("thread_ts"))] = title
    core.notify()
    return {"ok": True}


async def set_suggested_prompts(core: Core, call: ApiCall) -> JSON:
    """Recorded per (channel, thread_ts); agent_view apps call it without thread_ts (Messages tab, §8.2)."""
    channel = get_channel(core, call, "channel_id")
    prompts = call.params.structured("prompts", "invalid_arguments")
    if not isinstance(prompts, list) or not all(isinstance(p, dict) and "message" in p for p in prompts):
        raise ApiError("invalid_arguments")
    key = (channel.id, call.params.text("thread_ts"))
    core.ws.suggested_prompts[key] = {"title": call.params.text("title"), "prompts": prompts}
    core.notify()
    return {"ok": True}


METHODS: dict[str, MethodSpec] = {
    "auth.test": MethodSpec(auth_test, channel_param=None),
    "apps.connections.open": MethodSpec(
        apps_connections_open, ("connections:write",), token_kinds=APP_ONLY, channel_param=None
    ),
    "assistant.threads.setStatus": MethodSpec(
        set_status, ("chat:write", "assistant:write"), channel_param="channel_id"
    ),
    "assistant.threads.setTitle": MethodSpec(set_title, ("assistant:write",), channel_param="channel_id"),
    "agents.sessions.setStatus": MethodSpec(
        set_agent_session_status, ("chat:write",), token_kinds=BOT_ONLY, channel_param="channel_id"
    ),
    "assistant.threads.setSuggestedPrompts": MethodSpec(
        set_suggested_prompts, ("assistant:write",), channel_param="channel_id"
    ),
}
