"""What one person's page shows, as JSON: their conversations, the open channel, the open thread.

Built from the Slack emulator's records on every change and sent whole to the page (playground.js
renders it); the page never reads Slack's API itself. Messages keep their Block Kit and stream parts
apart (markdown, task cards, blocks), so the page renders them as Slack would rather than from the
flattened text the tests' views give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from emulators.slack import SlackEmulator
from emulators.slack.constants import BOT_USER_ID, GENERAL_CHANNEL_ID
from emulators.slack.images import images, slack_file_record
from emulators.slack.models import JSON, Channel, FileRecord, Message

FILES_PATH = "/playground/files"
# The people the page lets you be (the emulator's seeded workspace also has a fourth, kept for tests).
PEOPLE = ("U0123ABCD", "U0234BCDE", "U0345CDEF")
# The app's bot user as manifest.yaml names it (`features.bot_user.display_name`); the emulator's
# seeded workspace calls it otherwise, for its tests.
BOT_DISPLAY_NAME = "claude"


@dataclass
class View:
    """Where one page is: who they are, which conversation, which thread, which tab."""

    user: str = PEOPLE[0]
    channel: str = GENERAL_CHANNEL_ID
    thread: str | None = None
    tab: str = "messages"  # "messages" | "home"


def file_url(record: FileRecord) -> str:
    return f"{FILES_PATH}/{record.id}/{quote(record.name)}"


def _file_json(record: FileRecord) -> JSON:
    return {
        "id": record.id,
        "name": record.name,
        "mimetype": record.mimetype,
        "size": record.size,
        "is_image": record.is_image,
        "url": file_url(record),
    }


def with_image_sources(slack: SlackEmulator, blocks: list[JSON]) -> list[JSON]:
    """A copy of `blocks` where each image carries `playground_src`, the URL the page loads it from
    (a `slack_file` is served by the playground; an `image_url` is shown as given)."""
    copied: list[JSON] = _deep_copy(blocks)
    for image, _ in images(copied, "/blocks"):
        record = slack_file_record(slack.core, image)
        if record is not None:
            image["playground_src"] = file_url(record)
        elif isinstance(image.get("image_url"), str):
            image["playground_src"] = image["image_url"]
    return copied


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def name_the_app(slack: SlackEmulator) -> None:
    """Give the bot user its manifest name, so the bot (which learns it from auth.test) and the page
    call it the same: `@claude`."""
    bot = slack.core.ws.users[BOT_USER_ID]
    bot.name = bot.real_name = BOT_DISPLAY_NAME


def display_name(slack: SlackEmulator, user_id: str) -> str:
    user = slack.core.ws.users.get(user_id)
    return user.real_name if user is not None else user_id


def _names(slack: SlackEmulator, ids: list[str]) -> list[str]:
    return [display_name(slack, i) for i in ids]


def message_json(slack: SlackEmulator, message: Message) -> JSON:
    ws = slack.core.ws
    stream = message.stream
    files = [r for fid in message.file_ids if (r := ws.files.get(fid)) is not None and not r.deleted]
    blocks = stream.blocks if stream is not None else message.blocks or []
    markdown = stream.text if stream is not None else message.markdown_text
    return {
        "ts": message.ts,
        "user": message.user,
        "user_name": display_name(slack, message.user),
        "is_bot": message.is_bot,
        "text": "This message was deleted." if message.tombstone else message.text,
        "markdown": markdown,
        "blocks": with_image_sources(slack, blocks),
        "attachments": [str(a.get("text") or a.get("fallback") or "") for a in message.attachments or []],
        "stream_state": stream.phase if stream is not None else None,
        "plan_title": stream.plan_title if stream is not None else None,
        "tasks": [
            {"id": t.id, "title": t.title, "status": t.status, "details": t.details, "output": t.output}
            for t in (stream.tasks.values() if stream is not None else ())
        ],
        "files": [_file_json(r) for r in files],
        "reactions": {name: _names(slack, users) for name, users in message.reactions.items()},
        "ephemeral": message.ephemeral_to is not None,
        "edited": message.edited is not None,
        "deleted": message.tombstone,
        "reply_count": len(message.replies),
        "reply_names": _names(slack, message.reply_users),
    }


def can_see(channel: Channel, user: str) -> bool:
    """A DM is its person's; a private channel its members'; a public one anyone's."""
    if channel.kind == "im":
        return channel.im_user == user
    return channel.kind == "public" or user in channel.members


def _channels(slack: SlackEmulator, user: str) -> list[JSON]:
    out: list[JSON] = []
    for channel in slack.core.ws.channels.values():
        if channel.is_archived:
            continue
        if channel.kind == "im":
            if channel.im_user == user:
                out.append({"id": channel.id, "name": "Claude", "kind": "im"})
        elif channel.kind == "public" or user in channel.members:
            out.append(
                {
                    "id": channel.id,
                    "name": channel.name,
                    "kind": channel.kind,
                    "bot_member": BOT_USER_ID in channel.members,
                }
            )
    return sorted(out, key=lambda c: (c["kind"] == "im", c["name"]))


def _status(slack: SlackEmulator, channel: Channel, thread_ts: str) -> JSON | None:
    history = slack.core.ws.statuses.get((channel.id, thread_ts))
    if not history or not history[-1].status:
        return None
    entry = history[-1]
    return {"status": entry.status, "loading_messages": entry.loading_messages or []}


def _visible(message: Message, user: str) -> bool:
    return message.ephemeral_to is None or (message.ephemeral_to == user and not message.ephemeral_hidden)


def state(slack: SlackEmulator, view: View, admins: set[str], backend: JSON, bot: JSON) -> JSON:
    """Everything the page of `view.user` shows right now."""
    ws = slack.core.ws
    channel = ws.channels.get(view.channel)
    if channel is not None and not can_see(channel, view.user):
        channel = None
    messages: list[Message] = []
    thread: JSON | None = None
    if channel is not None:
        messages = [*ws.top_level(channel.id), *(m for m in channel.ephemerals if m.thread_ts is None)]
        if view.thread is not None and ws.message(channel.id, view.thread) is not None:
            replies = [*ws.thread(channel.id, view.thread)]
            replies += [m for m in channel.ephemerals if m.thread_ts == view.thread]
            thread = {
                "ts": view.thread,
                "messages": [
                    message_json(slack, m)
                    for m in sorted(replies, key=lambda m: m.ts)
                    if _visible(m, view.user)
                ],
                "status": _status(slack, channel, view.thread),
            }
    home = ws.home_views.get(view.user)
    modal = slack.modal(view.user)
    return {
        "type": "state",
        "me": view.user,
        "view": {"channel": view.channel, "thread": view.thread, "tab": view.tab},
        "people": [
            {
                "id": uid,
                "name": ws.users[uid].name,
                "real_name": ws.users[uid].real_name,
                "admin": uid in admins,
            }
            for uid in PEOPLE
            if uid in ws.users
        ],
        "bot_user_id": BOT_USER_ID,
        # How `<@U…>` and `<#C…>` read on the page.
        "names": {uid: display_name(slack, uid) for uid in ws.users}
        | {c.id: c.name for c in ws.channels.values() if c.kind != "im"},
        "channels": _channels(slack, view.user),
        "messages": [
            message_json(slack, m) for m in sorted(messages, key=lambda m: m.ts) if _visible(m, view.user)
        ],
        "thread": thread,
        "home": {"blocks": with_image_sources(slack, home.blocks)} if home is not None else None,
        # The modal the app opened for this person (views.open), with the errors it shows under inputs.
        "modal": {
            "id": modal.id,
            "title": modal.view.get("title"),
            "submit": modal.view.get("submit"),
            "close": modal.view.get("close"),
            "blocks": modal.blocks,
            "errors": modal.errors,
        }
        if modal is not None
        else None,
        "backend": backend,
        "bot": bot,
    }
