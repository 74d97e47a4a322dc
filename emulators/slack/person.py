"""What a test does as a human in Slack: post (with files), edit, delete, react, open the app.

Each action changes the workspace exactly as the Slack client would and produces exactly the events
Slack sends to an app subscribed to `app_mention` and `message.*` (§2.2-2.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .api_views import view_json
from .blocks import mentions
from .constants import BOT_USER_ID
from .events import MentionTwins
from .files import classify, guess_mimetype
from .messaging import new_bot_message, publish_bot_message
from .models import Channel, FileRecord, FileShare, Message

if TYPE_CHECKING:
    from .core import Core

FileSpec = tuple[str, bytes | Path, str | None]


class People:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _channel_for(self, user: str, channel_ref: str) -> Channel:
        ws = self.core.ws
        channel = ws.resolve_channel(channel_ref)
        if user not in channel.members:
            if ws.user(user).guest is not None:
                # Guests "must be invited by an existing regular team member" (Slack help, Restricted
                # Accounts and Single-Channel Guest FAQ): they cannot join a channel on their own.
                raise PermissionError(f"guest {user} is not a member of {channel.id}: invite them first")
            if channel.kind != "public":
                raise PermissionError(f"{user} is not a member of {channel.kind} conversation {channel.id}")
            channel.members.append(user)  # joining a public channel is one click away
        if channel.is_archived:
            raise PermissionError(f"{channel.id} is archived")
        return channel

    async def post_message(
        self,
        user: str,
        channel_ref: str,
        text: str,
        *,
        thread_ts: str | None = None,
        mention_bot: bool = False,
        files: Sequence[FileSpec] | None = None,
        connect_stubs: bool = False,
        as_bot: bool = False,
        mention_twins: MentionTwins = "app_mention_first",
    ) -> str:
        core = self.core
        author = core.ws.resolve_user(user)
        channel = self._channel_for(author.id, channel_ref)
        if mention_bot:
            text = f"<@{BOT_USER_ID}> {text}"
        root_ts: str | None = None
        if thread_ts is not None:
            root = core.ws.root_of(channel.id, thread_ts)
            if root is None:
                raise LookupError(f"no message {thread_ts} in {channel.id} to reply to")
            root_ts = root.ts
        if as_bot:
            if not author.is_bot or author.id == BOT_USER_ID:
                raise ValueError("as_bot=True needs another app's bot user, e.g. slack.other_bot_user_id")
            message = new_bot_message(core, channel, author=author.id, text=text, thread_ts=root_ts)
            await publish_bot_message(core, message)
            await core.events.bot_message(message)
            return message.ts
        file_ids = [(await self._store_file(author.id, spec)).id for spec in files or ()]
        message = Message(
            ts=core.ids.next_ts(),
            channel=channel.id,
            user=author.id,
            text=text,
            thread_ts=root_ts,
            subtype="file_share" if file_ids else None,
            client_msg_id=core.ids.uuid(),
            file_ids=file_ids,
            files_as_stubs=connect_stubs,
        )
        core.ws.append(message)
        for file_id in file_ids:
            core.ws.files[file_id].shares.append(FileShare(channel.id, message.ts, root_ts, author.id))
        await core.events.human_message(
            message, mentions_bot=BOT_USER_ID in mentions(text), twins=mention_twins
        )
        return message.ts

    async def _store_file(self, user: str, spec: FileSpec) -> FileRecord:
        core = self.core
        name, content, mimetype = spec
        file_id = core.ids.slack_id("F")
        path = core.files.path_for(file_id)
        if isinstance(content, Path):
            await core.files.import_path(path, content)
        else:
            await core.files.write_bytes(path, content)
        mime = mimetype or guess_mimetype(name)
        filetype, pretty = classify(name, mime)
        record = FileRecord(
            id=file_id,
            name=name,
            title=name,
            user=user,
            path=path,
            created=int(core.now()),
            mimetype=mime,
            filetype=filetype,
            pretty_type=pretty,
            uploaded=True,
            completed=True,
            public_secret=core.ids.hex(10),
        )
        await core.files.analyze(record)
        core.ws.files[file_id] = record
        return record

    def _own_message(self, user: str, channel_ref: str, ts: str) -> tuple[Channel, Message]:
        channel = self.core.ws.resolve_channel(channel_ref)
        message = channel.messages.get(ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel.id}")
        if message.user != self.core.ws.resolve_user(user).id:
            raise PermissionError(f"{user} cannot edit or delete a message by {message.user}")
        return channel, message

    async def edit_message(self, user: str, channel_ref: str, ts: str, text: str) -> None:
        _, message = self._own_message(user, channel_ref, ts)
        previous = message.text
        message.text, message.derived_blocks = text, None
        message.edited = {"user": message.user, "ts": self.core.ids.next_ts().split(".")[0] + ".000000"}
        self.core.notify()
        await self.core.events.message_changed(message, previous)

    async def delete_message(self, user: str, channel_ref: str, ts: str) -> None:
        channel, message = self._own_message(user, channel_ref, ts)
        self.core.ws.remove(channel.id, message.ts)
        await self.core.events.message_deleted(message)

    async def add_reaction(self, user: str, channel_ref: str, ts: str, name: str) -> None:
        author = self.core.ws.resolve_user(user)
        channel = self.core.ws.resolve_channel(channel_ref)
        message = channel.messages.get(ts)
        if message is None:
            raise LookupError(f"no message {ts} in {channel.id}")
        users = message.reactions.setdefault(name, [])
        if author.id not in users:
            users.append(author.id)
            self.core.notify()
            await self.core.events.reaction_added(author.id, message, name)

    async def press_native_stop(self, user: str, channel_ref: str, thread_ts: str) -> list[str]:
        """The stop button Slack shows on an agent session: Slack stops the app's streams in the
        thread (later appends and stops fail with `stopped_by_user`) and sends agent_session_stopped.
        Returns the stopped streams' ts. Slack shows that button only while the thread's agent
        session is `processing` (docs.slack.dev/reference/events/agent_session_stopped): pressing it
        anywhere else raises LookupError, as there is nothing to press."""
        person = self.core.ws.resolve_user(user)
        channel = self.core.ws.resolve_channel(channel_ref)
        if self.core.ws.agent_sessions.get((channel.id, thread_ts)) != "processing":
            raise LookupError(
                f"no agent session is processing in {channel.id}/{thread_ts}: no stop button shows"
            )
        stopped = []
        for message in list(channel.messages.values()):
            stream = message.stream
            if (message.thread_ts or message.ts) == thread_ts and stream and stream.phase == "streaming":
                stream.phase = "stopped_by_user"
                stream.stopped_at = self.core.now()
                stopped.append(message.ts)
        self.core.notify()
        await self.core.events.agent_session_stopped(person.id, channel, thread_ts, stopped)
        return stopped

    async def open_messages_tab(self, user: str) -> None:
        """The user opens the app's Messages tab (agent_view: replaces assistant_thread_started)."""
        person = self.core.ws.resolve_user(user)
        await self.core.events.app_home_opened(person.id, self.core.ws.dm(person.id), "messages")

    async def open_home_tab(self, user: str) -> None:
        """The user opens the app's Home tab: app_home_opened with `tab: "home"`, and the view that was
        published for them, if any."""
        person = self.core.ws.resolve_user(user)
        published = self.core.ws.home_views.get(person.id)
        view = view_json(self.core, published) if published is not None else None
        await self.core.events.app_home_opened(person.id, self.core.ws.dm(person.id), "home", view)

    async def start_assistant_thread(self, user: str, context_channel: str | None = None) -> str:
        """The user opens a new assistant thread (legacy split view): Slack creates the root in the DM."""
        core = self.core
        person = core.ws.resolve_user(user)
        dm = core.ws.dm(person.id)
        root = new_bot_message(core, dm, subtype="assistant_app_thread")
        core.ws.append(root)
        await core.events.assistant_thread_started(person.id, dm, root.ts, context_channel)
        return root.ts
