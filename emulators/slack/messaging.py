"""Posting messages as the app, shared by chat.*, streams, file shares and response_url replies.

Every bot post goes through `publish_bot_message`, which is where the Slack side effects live: the
thread's reply bookkeeping, the assistant status clearing itself on a reply (§5.1), and the `message`
event Slack sends back to the app about its own post (§2.6, so Bolt's self-ignore is exercised).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api_base import ApiError
from .blocks import ensure_block_ids
from .constants import BOT_USER_ID
from .models import JSON, Channel, Message, StatusEntry

if TYPE_CHECKING:
    from .core import Core


def resolve_thread_ts(core: Core, channel: Channel, thread_ts: str | None) -> str | None:
    """The thread root for `thread_ts` (a reply's ts is mapped to its root, as Slack does).

    An unknown `thread_ts` is rejected with `invalid_thread_ts` (emulator choice, see README LIMITS).
    """
    if thread_ts is None:
        return None
    root = core.ws.root_of(channel.id, thread_ts)
    if root is None or (root.tombstone and not root.replies):
        raise ApiError("invalid_thread_ts")
    return root.ts


def new_bot_message(
    core: Core,
    channel: Channel,
    *,
    author: str = BOT_USER_ID,
    text: str = "",
    blocks: list[JSON] | None = None,
    markdown_text: str | None = None,
    attachments: list[JSON] | None = None,
    thread_ts: str | None = None,
    broadcast: bool = False,
    metadata: JSON | None = None,
    file_ids: list[str] | None = None,
    subtype: str | None = None,
) -> Message:
    user = core.ws.user(author)
    if blocks is not None:
        blocks = ensure_block_ids(blocks, core.ids.block_id)
    return Message(
        ts=core.ids.next_ts(),
        channel=channel.id,
        user=author,
        text=text,
        blocks=blocks,
        markdown_text=markdown_text,
        attachments=attachments,
        thread_ts=thread_ts,
        subtype=subtype or ("thread_broadcast" if broadcast else None),
        bot_id=user.bot_id,
        app_id=user.app_id,
        file_ids=list(file_ids or []),
        metadata=metadata,
        broadcast=broadcast,
    )


def store_bot_message(core: Core, message: Message) -> Message:
    """Store a bot-authored message; the app's own reply clears the thread status (§5.1)."""
    core.ws.append(message)
    if message.user == BOT_USER_ID:
        clear_status_on_reply(core, message.channel, message.thread_ts)
    return message


async def publish_bot_message(core: Core, message: Message) -> Message:
    """Store a bot-authored message and send the app the `message` event about it (§2.6)."""
    store_bot_message(core, message)
    if message.user == BOT_USER_ID and core.settings.echo_bot_messages:
        await core.events.bot_message(message)
    return message


def clear_status_on_reply(core: Core, channel_id: str, thread_ts: str | None) -> None:
    # §5.1: the status is cleared when the app posts a reply in the thread.
    if thread_ts is None:
        return
    if core.ws.current_status(channel_id, thread_ts):
        core.ws.record_status(channel_id, thread_ts, StatusEntry(core.now(), "", None, "cleared_by_reply"))


def post_ephemeral(
    core: Core,
    channel: Channel,
    user: str,
    *,
    text: str = "",
    blocks: list[JSON] | None = None,
    thread_ts: str | None = None,
    author: str = BOT_USER_ID,
) -> Message:
    """An ephemeral message: never in history, no event, visible only to `user` (in the view)."""
    bot = core.ws.user(author)
    if blocks is not None:
        blocks = ensure_block_ids(blocks, core.ids.block_id)
    message = Message(
        ts=core.ids.next_ts(),
        channel=channel.id,
        user=author,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        bot_id=bot.bot_id,
        app_id=bot.app_id,
        ephemeral_to=user,
        subtype="bot_message",
    )
    channel.ephemerals.append(message)
    core.notify()
    return message
