"""chat.postMessage, chat.update, chat.delete, chat.postEphemeral, chat.getPermalink."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api_base import ApiCall, ApiError, MethodSpec, Params, get_channel, require_member, require_writable
from .blocks import ensure_block_ids, mentions, validate_blocks
from .constants import BOT_USER_ID, MAX_MARKDOWN_CHARS, MAX_TEXT_CHARS, TEAM_ID, WORKSPACE_URL
from .images import require_valid_images
from .messaging import new_bot_message, post_ephemeral, publish_bot_message, resolve_thread_ts
from .models import JSON, Message
from .payloads import message_blocks, message_json
from .side_effects import message_effects

if TYPE_CHECKING:
    from .core import Core


class Content:
    """The message body arguments shared by post/update (§6 limits and conflicts)."""

    def __init__(self, params: Params, *, require: bool = True) -> None:
        self.text = params.text("text") or ""
        self.markdown = params.text("markdown_text")
        blocks: Any = params.structured("blocks", "invalid_blocks_format")
        attachments: Any = params.structured("attachments", "invalid_attachments")
        if self.markdown is not None and (self.text or blocks):
            raise ApiError("markdown_text_conflict")
        if self.markdown is not None and len(self.markdown) > MAX_MARKDOWN_CHARS:
            raise ApiError("msg_too_long")
        if blocks is not None and (error := validate_blocks(blocks)) is not None:
            raise ApiError(error)
        if attachments is not None and not isinstance(attachments, list):
            raise ApiError("invalid_attachments")
        self.blocks: list[JSON] | None = blocks
        self.attachments: list[JSON] | None = attachments
        if require and not (self.text or self.blocks or self.markdown or self.attachments):
            raise ApiError("no_text")

    @property
    def mentions_bot(self) -> bool:
        return BOT_USER_ID in mentions(self.text or self.markdown or "")


def _warnings(out: JSON, warnings: list[str]) -> JSON:
    if warnings:
        out["warning"] = ",".join(warnings)
        out["response_metadata"] = {"warnings": warnings}
    return out


async def post_message(core: Core, call: ApiCall) -> JSON:
    params = call.params
    channel = get_channel(core, call)
    require_writable(channel)
    # §7 table / docs: apps need membership unless granted chat:write.public for public channels.
    require_member(core, call, channel, public_write=True)
    content = Content(params)
    require_valid_images(core, content.blocks, call.principal)
    thread_ts = resolve_thread_ts(core, channel, params.text("thread_ts"))
    metadata = params.structured("metadata", "invalid_metadata_format")
    warnings: list[str] = []
    text = content.text
    if len(text) > MAX_TEXT_CHARS:
        # §6: Slack truncates text beyond 40,000 chars and says so in a warning (no error).
        text = text[:MAX_TEXT_CHARS]
        warnings.append("message_truncated")
    if call.is_bot:
        message = new_bot_message(
            core,
            channel,
            text=text,
            blocks=content.blocks,
            markdown_text=content.markdown,
            attachments=content.attachments,
            thread_ts=thread_ts,
            broadcast=bool(thread_ts) and params.flag("reply_broadcast"),
            metadata=metadata if isinstance(metadata, dict) else None,
        )
        _choose_unfurls(message, params)
        await publish_bot_message(core, message)
        message_effects(core, message)
    else:
        message = Message(
            ts=core.ids.next_ts(),
            channel=channel.id,
            user=call.principal,
            text=text,
            blocks=content.blocks,
            markdown_text=content.markdown,
            thread_ts=thread_ts,
        )
        _choose_unfurls(message, params)
        core.ws.append(message)
        message_effects(core, message)
        await core.events.human_message(message, mentions_bot=content.mentions_bot)
    body = message_json(core, message)
    return _warnings({"ok": True, "channel": channel.id, "ts": message.ts, "message": body}, warnings)


def _choose_unfurls(message: Message, params: Params) -> None:
    # Both on unless turned off: the strictest reading of the argument docs (side_effects.py).
    message.unfurl_links = params.flag("unfurl_links", True)
    message.unfurl_media = params.flag("unfurl_media", True)


def _own_message(core: Core, call: ApiCall, error: str) -> tuple[Message, str]:
    channel = get_channel(core, call)
    ts = call.params.require("ts", "message_not_found")
    message = channel.messages.get(ts)
    if message is None or message.tombstone:
        raise ApiError("message_not_found")
    if message.user != call.principal:
        raise ApiError(error)
    return message, channel.id


async def update(core: Core, call: ApiCall) -> JSON:
    message, channel_id = _own_message(core, call, "cant_update_message")
    if message.stream is not None and message.stream.phase == "streaming":
        raise ApiError("streaming_state_conflict")
    content = Content(call.params, require=False)
    if not (
        content.text
        or content.blocks
        or content.markdown
        or content.attachments
        or call.params.text("file_ids")
    ):
        raise ApiError("no_text")
    if len(content.text) > MAX_TEXT_CHARS:
        raise ApiError("msg_too_long")
    require_valid_images(core, content.blocks, call.principal)
    previous = message.text
    message.stream = None  # an update replaces streamed content with a plain message
    message.text = content.text if content.markdown is None else content.markdown
    message.markdown_text = content.markdown
    # text without blocks removes the old blocks (§5.4)
    message.blocks = (
        ensure_block_ids(content.blocks, core.ids.block_id) if content.blocks is not None else None
    )
    message.derived_blocks = None
    if content.attachments is not None:
        message.attachments = content.attachments
    edited_ts = core.ids.next_ts().split(".")[0] + ".000000"
    message.edited = {"user": message.bot_id or message.user, "ts": edited_ts}
    core.notify()
    message_effects(core, message)  # an edit keeps the unfurl choice of the post
    if core.settings.echo_bot_edits and call.is_bot:
        await core.events.message_changed(message, previous)
    body: JSON = {"text": message.text, "user": message.user}
    if message.bot_id:
        body.update(bot_id=message.bot_id, app_id=message.app_id)
    body.update(type="message", edited=dict(message.edited), team=TEAM_ID)
    if content.blocks is not None or content.markdown is not None:
        body["blocks"] = message_blocks(core, message)
    return {"ok": True, "channel": channel_id, "ts": message.ts, "text": message.text, "message": body}


async def delete(core: Core, call: ApiCall) -> JSON:
    message, channel_id = _own_message(core, call, "cant_delete_message")
    core.ws.remove(channel_id, message.ts)
    if core.settings.echo_bot_edits and call.is_bot:
        await core.events.message_deleted(message)
    return {"ok": True, "channel": channel_id, "ts": message.ts}


async def post_ephemeral_method(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call)
    require_writable(channel)
    user = call.params.require("user", "user_not_found")
    if user not in core.ws.users:
        raise ApiError("user_not_found")
    require_member(core, call, channel)
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    content = Content(call.params)
    require_valid_images(core, content.blocks, call.principal)
    thread_ts = resolve_thread_ts(core, channel, call.params.text("thread_ts"))
    message = post_ephemeral(
        core, channel, user, text=content.text, blocks=content.blocks, thread_ts=thread_ts
    )
    root = core.ws.message(channel.id, thread_ts) if thread_ts is not None else None
    if root is not None and not root.replies:
        # "Ephemeral messages in threads are only shown if there is already an active thread"
        # (docs.slack.dev/reference/methods/chat.postEphemeral, `thread_ts`): Slack still answers ok.
        message.ephemeral_hidden = True
    return {"ok": True, "message_ts": message.ts}


async def get_permalink(core: Core, call: ApiCall) -> JSON:
    channel = get_channel(core, call)
    ts = call.params.require("message_ts", "message_not_found")
    message = channel.messages.get(ts)
    if message is None:
        raise ApiError("message_not_found")
    link = f"{WORKSPACE_URL}archives/{channel.id}/p{ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


METHODS: dict[str, MethodSpec] = {
    "chat.postMessage": MethodSpec(post_message, ("chat:write",)),
    "chat.update": MethodSpec(update, ("chat:write",)),
    "chat.delete": MethodSpec(delete, ("chat:write",)),
    "chat.postEphemeral": MethodSpec(post_ephemeral_method, ("chat:write",)),
    "chat.getPermalink": MethodSpec(get_permalink, ()),
}
