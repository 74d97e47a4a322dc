"""JSON shapes Slack sends: messages, files, users, conversations and the Events API wrapper.

Shapes follow `tests/fixtures/slack/` key for key (the fidelity tests compare key sets). They are
rendered from the models on demand, so history, events and API answers always agree.
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from .blocks import rich_text_from_text
from .constants import (
    APP_ID,
    BOT_ICONS,
    BOT_PROFILE_UPDATED,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    WORKSPACE_URL,
)
from .models import JSON, Channel, FileRecord, Message, User

if TYPE_CHECKING:
    from .core import Core

FileContext = Literal["message", "upload", "info"]

PREVIEW_LINES = 5


# ------------------------------------------------------------------ messages
def bot_profile(user: User) -> JSON:
    return {
        "id": user.bot_id,
        "deleted": False,
        "name": user.name,
        "updated": BOT_PROFILE_UPDATED,
        "app_id": user.app_id,
        "icons": dict(BOT_ICONS),
        "team_id": TEAM_ID,
    }


def message_blocks(core: Core, message: Message) -> list[JSON]:
    """The blocks Slack stores: the author's blocks, or rich_text derived from `text` (stable ids)."""
    if message.blocks is not None:
        return message.blocks
    if message.stream is not None:
        return list(message.stream.blocks)
    if message.derived_blocks is None:
        if message.markdown_text is not None:
            message.derived_blocks = [
                {"type": "markdown", "block_id": core.ids.block_id(), "text": message.markdown_text}
            ]
        else:
            message.derived_blocks = rich_text_from_text(message.text, core.ids.block_id())
    return message.derived_blocks


def message_text(message: Message) -> str:
    if message.stream is not None:
        return message.stream.text
    if message.markdown_text is not None:
        return message.markdown_text
    return message.text


def message_json(core: Core, message: Message, *, for_event: bool = False) -> JSON:
    """A message as `conversations.replies` / `chat.postMessage` return it (or as the event body)."""
    if message.tombstone:
        return _tombstone_json(core, message)
    author = core.ws.users.get(message.user)
    files = _message_files(core, message)
    out: JSON = {}
    if message.bot_id is not None and author is not None:
        out.update(user=message.user, type="message")
        if message.subtype:
            out["subtype"] = message.subtype
        out.update(ts=message.ts, bot_id=message.bot_id, app_id=message.app_id, text=message_text(message))
        if files is not None:
            out.update(files=files, upload=message.upload, display_as_bot=False)
        out.update(team=TEAM_ID, bot_profile=bot_profile(author))
    else:
        out["type"] = "message"
        if message.subtype:
            out["subtype"] = message.subtype
        out["text"] = message_text(message)
        if files is not None:
            out.update(files=files, upload=message.upload)
        out["user"] = message.user
        if files is not None:
            out["display_as_bot"] = False
        out["ts"] = message.ts
        external = author.team_id if author is not None else None
        if files is None:
            out["team"] = external or TEAM_ID  # file_share events lack `team` (slack-api-specs#62, fixtures)
        if external:
            # A Slack Connect user's own organisation (slack-go/slack#695: message and app_mention).
            out.update(user_team=external, source_team=external)
    if message.is_reply and message.thread_ts is not None:
        root = core.ws.message(message.channel, message.thread_ts)
        out["thread_ts"] = message.thread_ts
        out["parent_user_id"] = root.user if root is not None else message.user
    out["blocks"] = message_blocks(core, message)
    if message.client_msg_id:
        out["client_msg_id"] = message.client_msg_id
    if message.attachments:
        out["attachments"] = message.attachments
    if message.metadata:
        out["metadata"] = message.metadata
    if message.edited:
        out["edited"] = dict(message.edited)
    if not for_event:
        out.update(thread_fields(message))
        if message.reactions:
            out["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in message.reactions.items()
            ]
    return out


def thread_fields(message: Message) -> JSON:
    """The reply bookkeeping a thread root carries once it has replies."""
    if not message.replies:
        return {}
    return {
        "thread_ts": message.ts,
        "reply_count": len(message.replies),
        "reply_users_count": len(message.reply_users),
        "latest_reply": message.replies[-1],
        "reply_users": list(message.reply_users),
        "is_locked": False,
        "subscribed": False,
    }


def _tombstone_json(core: Core, message: Message) -> JSON:
    return {
        "type": "message",
        "subtype": "tombstone",
        "text": "This message was deleted.",
        "user": "USLACKBOT",
        "hidden": True,
        "ts": message.ts,
        **thread_fields(message),
    }


def _message_files(core: Core, message: Message) -> list[JSON] | None:
    if not message.file_ids:
        return None
    if message.files_as_stubs:
        return [{"id": fid, "file_access": "check_file_info"} for fid in message.file_ids]
    return [
        file_json(core, core.ws.files[fid], "message") for fid in message.file_ids if fid in core.ws.files
    ]


# --------------------------------------------------------------------- files
def file_urls(core: Core, record: FileRecord, base: str | None = None) -> tuple[str, str]:
    root = (base or core.base_url) + f"files-pri/{TEAM_ID}-{record.id}/"
    name = quote(record.name)
    return root + name, root + "download/" + name


def file_json(core: Core, record: FileRecord, context: FileContext) -> JSON:
    """A file object. `message`: as embedded in messages/events; `upload`: completeUploadExternal
    (empty shares, sharing is asynchronous §4.1); `info`: files.info (shares populated)."""
    url_private, url_download = file_urls(core, record)
    out: JSON = {
        "id": record.id,
        "created": record.created,
        "timestamp": record.created,
        "name": record.name,
        "title": record.title,
        "mimetype": record.mimetype,
        "filetype": record.filetype,
        "pretty_type": record.pretty_type,
        "user": record.user,
        "user_team": TEAM_ID,
        "editable": record.mode == "snippet",
        "size": record.size,
        "mode": record.mode,
        "is_external": False,
        "external_type": "",
        "is_public": any(_share_is_public(core, s.channel) for s in record.shares),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": url_private,
        "url_private_download": url_download,
    }
    if context == "message":
        out["media_display_type"] = "unknown"
    out["permalink"] = f"{WORKSPACE_URL}files/{record.user}/{record.id}/{quote(record.name)}"
    out["permalink_public"] = f"https://slack-files.com/{TEAM_ID}-{record.id}-{record.public_secret}"
    if context == "message":
        out["is_starred"] = False
    out["has_rich_preview"] = False
    out["file_access"] = "visible"
    if record.alt_txt:
        out["alt_txt"] = record.alt_txt
    if record.mode == "snippet":
        out.update(_snippet_fields(record))
    if record.is_image and context == "message":
        # thumbnails are generated asynchronously: the upload/info fixtures carry none
        out.update(_image_fields(core, record))
    if context != "message":
        out.update(_share_fields(core, record, populated=context == "info"))
    return out


def _snippet_fields(record: FileRecord) -> JSON:
    preview = record.preview or ""
    lines = record.lines or 0
    return {
        "edit_link": f"{WORKSPACE_URL}files/{record.user}/{record.id}/{quote(record.name)}/edit",
        "preview": preview,
        "preview_highlight": '<div class="CodeMirror cm-s-default CodeMirrorServer">'
        + '<div class="CodeMirror-code">'
        + "".join(f"<div><pre>{html.escape(line)}</pre></div>" for line in preview.split("\n"))
        + "</div></div>",
        "lines": lines,
        "lines_more": max(0, lines - PREVIEW_LINES),
        "preview_is_truncated": lines > PREVIEW_LINES,
    }


def _image_fields(core: Core, record: FileRecord) -> JSON:
    stem = record.name.rsplit(".", 1)[0]
    base = core.base_url + f"files-tmb/{TEAM_ID}-{record.id}-{record.public_secret}/{quote(stem)}"
    out: JSON = {}
    width, height = record.image_size or (0, 0)
    for size in (64, 80, 360, 480, 160):
        out[f"thumb_{size}"] = f"{base}_{size}.png"
        if size in (360, 480) and width and height:
            scale = min(1.0, size / max(width, height))
            out[f"thumb_{size}_w"] = max(1, round(width * scale))
            out[f"thumb_{size}_h"] = max(1, round(height * scale))
    if width and height:
        out["original_w"] = width
        out["original_h"] = height
    out["thumb_tiny"] = "AwAgADDTooor..."
    return out


def _share_is_public(core: Core, channel_id: str) -> bool:
    channel = core.ws.channel(channel_id)
    return channel is not None and channel.kind == "public"


def _share_fields(core: Core, record: FileRecord, *, populated: bool) -> JSON:
    shares: JSON = {}
    channels: list[str] = []
    groups: list[str] = []
    ims: list[str] = []
    if populated:
        for share in record.shares:
            channel = core.ws.channel(share.channel)
            if channel is None:
                continue
            bucket = "public" if channel.kind == "public" else "private"
            entry: JSON = {}
            root_ts = share.thread_ts or share.ts
            root = core.ws.message(channel.id, root_ts)
            if root is not None:
                entry.update(
                    reply_users=list(root.reply_users),
                    reply_users_count=len(root.reply_users),
                    reply_count=len(root.replies),
                )
            entry["ts"] = share.ts
            if share.thread_ts:
                entry["thread_ts"] = share.thread_ts
            if root is not None and root.replies:
                entry["latest_reply"] = root.replies[-1]
            entry.update(
                channel_name=channel.name, team_id=TEAM_ID, share_user_id=share.share_user, source="UNKNOWN"
            )
            shares.setdefault(bucket, {}).setdefault(channel.id, []).append(entry)
            target = {"public": channels, "private": groups, "mpim": groups, "im": ims}[channel.kind]
            if channel.id not in target:
                target.append(channel.id)
    return {
        "shares": shares,
        "channels": channels,
        "groups": groups,
        "ims": ims,
        "has_more_shares": False,
        "comments_count": 0,
    }


# --------------------------------------------------------------- users/convs
def interactive_fields(person: User, kind: str) -> JSON:
    """What every interactive payload (block_actions, view_submission, view_closed) says of who
    acted and for which app. `user.team_id` is the person's own workspace: another organisation's
    for a Slack Connect user (strictest plausible: the payload docs list it without saying whose)."""
    return {
        "type": kind,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {
            "id": person.id,
            "username": person.name,
            "name": person.name,
            "team_id": person.team_id or TEAM_ID,
        },
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def user_json(user: User) -> JSON:
    first, _, last = user.real_name.partition(" ")
    profile: JSON = {
        "title": "",
        "phone": "",
        "skype": "",
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "fields": None,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": "g0123456789a",
        "first_name": first,
        "last_name": last,
        "image_24": "https://secure.gravatar.com/avatar/0.jpg?s=24",
        "image_48": "https://secure.gravatar.com/avatar/0.jpg?s=48",
        "image_72": "https://secure.gravatar.com/avatar/0.jpg?s=72",
        "team": user.team_id or TEAM_ID,
    }
    if user.is_bot:
        profile.update(bot_id=user.bot_id, api_app_id=user.app_id, always_active=True)
    else:
        profile["email"] = f"{user.name}@acme.example"
    return {
        "id": user.id,
        "team_id": user.team_id or TEAM_ID,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": profile,
        "is_admin": user.is_admin or user.is_owner,
        "is_owner": user.is_owner,
        "is_primary_owner": False,
        # Guests (docs.slack.dev/reference/objects/user-object): `is_restricted` marks a guest,
        # `is_ultra_restricted` a single-channel guest, which is a kind of restricted account (both set).
        "is_restricted": user.guest is not None,
        "is_ultra_restricted": user.guest == "single",
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": user.updated,
        "is_email_confirmed": not user.is_bot,
        "who_can_share_contact_card": "EVERYONE",
    }


def channel_json(channel: Channel, viewer: str) -> JSON:
    if channel.kind == "im":
        return {
            "id": channel.id,
            "created": channel.created,
            "is_archived": channel.is_archived,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": TEAM_ID,
            "updated": channel.created * 1000,
            "user": channel.im_user,
            "last_read": "0000000000.000000",
            "is_open": True,
            "priority": 0,
        }
    meta = {"value": "", "creator": "", "last_set": 0}
    return {
        "id": channel.id,
        "name": channel.name,
        "is_channel": channel.kind in ("public", "private"),
        "is_group": False,
        "is_im": False,
        "is_mpim": channel.kind == "mpim",
        "is_private": channel.kind != "public",
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.name == "general",
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": TEAM_ID,
        "updated": channel.created * 1000,
        "parent_conversation": None,
        "creator": channel.creator,
        "is_ext_shared": False,
        "shared_team_ids": [TEAM_ID],
        "pending_connected_team_ids": [],
        "is_member": viewer in channel.members,
        "topic": {**meta, "value": channel.topic},
        "purpose": {**meta, "value": channel.purpose},
        "previous_names": [],
    }


# ------------------------------------------------------------------- events
def event_context(event_type: str, channel_id: str | None) -> str:
    """`4-<base64url JSON>` like the fixtures (decodes to et/tid/aid/cid)."""
    data: JSON = {"et": event_type, "tid": TEAM_ID, "aid": APP_ID}
    if channel_id:
        data["cid"] = channel_id
    raw = json.dumps(data, separators=(",", ":")).encode()
    return "4-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def event_callback(event: JSON, event_id: str, event_time: int, channel_id: str | None) -> JSON:
    """The Events API wrapper (§2.1): the HTTP body, and the Socket Mode envelope's `payload`."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": event_context(str(event.get("type")), channel_id),
    }


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
