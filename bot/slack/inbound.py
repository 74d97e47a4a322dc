"""Slack events -> `Inbound` messages, as pure functions.

Which messages start or continue a turn (slack-platform.md §2): a mention in a channel (`app_mention`
and its `message` twin, subtype `file_share` with files), any reply in a thread the bot already takes
part in, and direct messages (each top-level DM is its own thread). Edits, deletions, joins and other
subtypes are ignored; so is every message from a bot (ours or another), so bots never loop.

The twins of a mention are not interchangeable on real Slack: no order is guaranteed
(openclaw/openclaw#34937), `app_mention` sometimes comes without the `files` its twin carries
(openclaw/openclaw#62927, #115157; NousResearch/hermes-agent#77141), and for some file shares no
`app_mention` comes at all (slackapi/bolt-python#925). So both are stored (the store keeps one row per
message and adds the files of whichever comes second, Store.enqueue), a `message` that mentions the
bot is a mention in its own right, and a turn started from an `app_mention` without files waits a
moment for its twin (`TWIN_WAIT_SECONDS`, Store.settle_twins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey
from bot.slack.safe_text import display_name

USER_MESSAGE_SUBTYPES = {None, "file_share", "thread_broadcast"}
# The twin of a mention comes within milliseconds when it comes; a turn waits no longer than this.
TWIN_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Candidate:
    inbound: Inbound
    # A plain reply in a channel thread counts only when the bot already has a conversation there.
    needs_conversation: bool = False


def mention_token(bot_user_id: str) -> str:
    return f"<@{bot_user_id}>"


def clean_text(text: str, bot_user_id: str) -> str:
    """The message without the bot's own mention (Claude is told who wrote it separately)."""
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>\s*", "", text).strip()


def files_of(event: dict[str, Any]) -> tuple[InboundFile, ...]:
    out = []
    for f in event.get("files") or []:
        if not isinstance(f, dict) or "id" not in f:
            continue
        stub = f.get("file_access") == "check_file_info" or not (
            f.get("url_private_download") or f.get("url_private")
        )
        out.append(
            InboundFile(
                slack_file_id=str(f["id"]),
                # Shown to people in lines about the file, and the sandbox name is made from it.
                name=display_name(str(f.get("name") or f.get("title") or f["id"])),
                mimetype=str(f.get("mimetype") or ""),
                size=int(f.get("size") or 0),
                url=str(f.get("url_private_download") or f.get("url_private") or ""),
                stub=stub,
            )
        )
    return tuple(out)


def from_event(
    event: dict[str, Any],
    *,
    team_id: str,
    event_id: str | None,
    bot_user_id: str,
    only_when_mentioned: bool,
) -> Candidate | None:
    etype = event.get("type")
    if etype not in ("app_mention", "message"):
        return None
    if event.get("subtype") not in USER_MESSAGE_SUBTYPES:
        return None
    if event.get("edited"):
        # Slack sends app_mention again when a message with a mention is edited: an edit is not a
        # new question (and its original may have been answered long ago).
        return None
    user = event.get("user")
    if event.get("bot_id") or event.get("bot_profile") or not user or user == bot_user_id:
        return None
    channel = event.get("channel")
    ts = event.get("ts")
    if not channel or not ts:
        return None
    text = str(event.get("text") or "")
    thread_ts = event.get("thread_ts")
    mentioned = etype == "app_mention" or mention_token(bot_user_id) in text
    is_dm = event.get("channel_type") == "im" or str(channel).startswith("D")
    root = str(thread_ts or ts)
    # A Slack Connect user's own organisation (`user_team`; `team` too in shared channels, slack-go/slack#695).
    sender_team = str(event.get("user_team") or event.get("team") or "") or None
    if is_dm:
        kind = InboundKind.DM
    elif mentioned:
        kind = InboundKind.MENTION
    elif thread_ts and not only_when_mentioned:
        kind = InboundKind.MESSAGE
    else:
        return None
    inbound = Inbound(
        # The bot's own workspace, not the sender's (`event.team`): in a channel shared with another
        # organisation, people from both write in one thread, which is one conversation.
        key=ThreadKey(team_id, str(channel), root),
        ts=str(ts),
        user_id=str(user),
        text=clean_text(text, bot_user_id),
        kind=kind,
        files=files_of(event),
        event_id=event_id,
        # First mention inside an existing thread: earlier messages become context.
        wants_thread_context=bool(thread_ts) and thread_ts != ts and kind is InboundKind.MENTION,
        user_team=sender_team if sender_team != team_id else None,
        # Its `message` twin (we subscribe to message.* wherever app_mention comes) may bring files.
        awaits_twin=etype == "app_mention" and not event.get("files"),
    )
    return Candidate(inbound, needs_conversation=kind is InboundKind.MESSAGE)
