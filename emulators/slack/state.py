"""The workspace: users, conversations, messages with thread bookkeeping, files, tokens, statuses.

Everything here is synchronous and runs on the event loop thread; every mutation calls `notify()` so
`SlackEmulator.wait_for` wakes up on any change instead of polling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from .constants import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    DEFAULT_HUMANS,
    GENERAL_CHANNEL_ID,
    OTHER_APP_ID,
    OTHER_BOT_ID,
    OTHER_BOT_NAME,
    OTHER_BOT_USER_ID,
    RANDOM_CHANNEL_ID,
)
from .ids import IdFactory
from .models import (
    JSON,
    Channel,
    ChannelKind,
    FileRecord,
    GuestKind,
    HomeView,
    Message,
    StatusEntry,
    Token,
    User,
    UserGroup,
)


class ChangeNotifier:
    """Wakes every waiter on each state change (an Event swapped for a fresh one on notify)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.version = 0

    def notify(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return on the next change or after `seconds`, whichever comes first."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return


class Workspace:
    def __init__(self, ids: IdFactory, notify: Callable[[], None]) -> None:
        self.ids = ids
        self.notify = notify
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.files: dict[str, FileRecord] = {}
        self.tokens: dict[str, Token] = {}
        self.statuses: dict[tuple[str, str], list[StatusEntry]] = {}
        # (channel, thread_ts or None) -> what assistant.threads.setTitle / setSuggestedPrompts set last
        self.assistant_titles: dict[tuple[str, str | None], str] = {}
        self.suggested_prompts: dict[tuple[str, str | None], JSON] = {}
        # (channel, thread_ts) -> agent session status (agents.sessions.setStatus, chat.stopStream)
        self.agent_sessions: dict[tuple[str, str], str] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.home_views: dict[str, HomeView] = {}  # user id -> their Home tab (views.publish)
        self._seed()

    # ----------------------------------------------------------------- seed
    def _seed(self) -> None:
        self.ids.reserve(
            BOT_USER_ID, BOT_ID, APP_ID, OTHER_BOT_USER_ID, GENERAL_CHANNEL_ID, RANDOM_CHANNEL_ID
        )
        self.users[BOT_USER_ID] = User(
            BOT_USER_ID, BOT_NAME, BOT_NAME, is_bot=True, bot_id=BOT_ID, app_id=APP_ID
        )
        self.users[OTHER_BOT_USER_ID] = User(
            OTHER_BOT_USER_ID,
            OTHER_BOT_NAME,
            OTHER_BOT_NAME,
            is_bot=True,
            bot_id=OTHER_BOT_ID,
            app_id=OTHER_APP_ID,
        )
        for user_id, name, real_name in DEFAULT_HUMANS:
            self.ids.reserve(user_id)
            self.users[user_id] = User(user_id, name, real_name)
        humans = [u for u, _, _ in DEFAULT_HUMANS]
        self.add_channel("general", "public", [*humans, BOT_USER_ID], channel_id=GENERAL_CHANNEL_ID)
        self.add_channel("random", "public", humans, channel_id=RANDOM_CHANNEL_ID)

    # ---------------------------------------------------------------- users
    def add_user(
        self,
        name: str,
        real_name: str | None = None,
        *,
        is_bot: bool = False,
        user_id: str | None = None,
        team_id: str | None = None,
        guest: GuestKind | None = None,
    ) -> User:
        if any(u.name == name for u in self.users.values()):
            raise ValueError(f"a user named {name!r} already exists")
        uid = user_id or self.ids.slack_id("U")
        self.ids.reserve(uid)
        bot_id = self.ids.slack_id("B") if is_bot else None
        app_id = self.ids.slack_id("A") if is_bot else None
        user = User(
            uid,
            name,
            real_name or name,
            is_bot=is_bot,
            bot_id=bot_id,
            app_id=app_id,
            team_id=team_id,
            guest=guest,
        )
        self.users[uid] = user
        self.notify()
        return user

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id!r}; known: {sorted(self.users)}") from None

    def resolve_user(self, ref: str) -> User:
        """A user by id or by handle (`"ana"`)."""
        if ref in self.users:
            return self.users[ref]
        for user in self.users.values():
            if user.name == ref:
                return user
        raise KeyError(f"unknown user {ref!r}")

    def add_usergroup(self, handle: str, members: Iterable[str], name: str | None = None) -> UserGroup:
        member_list = list(dict.fromkeys(members))
        for member in member_list:
            self.user(member)
        group = UserGroup(self.ids.slack_id("S"), handle, name or handle, member_list)
        self.usergroups[group.id] = group
        self.notify()
        return group

    # ------------------------------------------------------------- channels
    def add_channel(
        self,
        name: str,
        kind: ChannelKind,
        members: Iterable[str],
        *,
        channel_id: str | None = None,
        creator: str | None = None,
    ) -> Channel:
        member_list = list(dict.fromkeys(members))
        for member in member_list:
            self.user(member)
        prefix = "D" if kind == "im" else "C"
        cid = channel_id or self.ids.slack_id(prefix)
        self.ids.reserve(cid)
        channel = Channel(
            id=cid,
            name=name,
            kind=kind,
            members=member_list,
            created=int(time.time()),
            creator=creator or (member_list[0] if member_list else BOT_USER_ID),
        )
        self.channels[cid] = channel
        self.notify()
        return channel

    def channel(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def resolve_channel(self, ref: str) -> Channel:
        """A conversation by id or by name (`"general"`, `"#general"`)."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if channel.name == name and channel.kind in ("public", "private"):
                return channel
        raise KeyError(f"unknown channel {ref!r}")

    def dm(self, user_id: str) -> Channel:
        """The im between `user_id` and the bot, created on first use."""
        self.user(user_id)
        for channel in self.channels.values():
            if channel.kind == "im" and channel.im_user == user_id:
                return channel
        channel = self.add_channel(user_id, "im", [user_id, BOT_USER_ID])
        channel.im_user = user_id
        return channel

    def mpim(self, user_ids: Iterable[str]) -> Channel:
        members = sorted(set(user_ids))
        for channel in self.channels.values():
            if channel.kind == "mpim" and sorted(channel.members) == members:
                return channel
        name = "mpdm-" + "--".join(self.user(u).name for u in members) + "-1"
        return self.add_channel(name, "mpim", members)

    @staticmethod
    def is_member(channel: Channel, user_id: str) -> bool:
        return user_id in channel.members

    def can_see(self, channel: Channel, user_id: str) -> bool:
        """Whether `user_id` can find this conversation at all (public ones are visible to everyone)."""
        return channel.kind == "public" or user_id in channel.members

    # ------------------------------------------------------------- messages
    def message(self, channel_id: str, ts: str) -> Message | None:
        channel = self.channels.get(channel_id)
        return channel.messages.get(ts) if channel else None

    def append(self, message: Message) -> Message:
        """Store a new message and update its thread root's reply bookkeeping."""
        channel = self.channels[message.channel]
        if message.thread_ts is not None and message.thread_ts != message.ts:
            root = channel.messages[message.thread_ts]
            root.replies.append(message.ts)
            if message.user not in root.reply_users:
                root.reply_users.append(message.user)
            root.thread_ts = root.ts
        channel.messages[message.ts] = message
        self.notify()
        return message

    def root_of(self, channel_id: str, ts: str) -> Message | None:
        message = self.message(channel_id, ts)
        if message is None:
            return None
        if message.is_reply and message.thread_ts is not None:
            return self.message(channel_id, message.thread_ts)
        return message

    def thread(self, channel_id: str, root_ts: str) -> list[Message]:
        root = self.message(channel_id, root_ts)
        if root is None:
            return []
        channel = self.channels[channel_id]
        return [root, *(channel.messages[ts] for ts in root.replies if ts in channel.messages)]

    def top_level(self, channel_id: str) -> list[Message]:
        channel = self.channels[channel_id]
        return [m for m in channel.messages.values() if not m.is_reply or m.broadcast]

    def remove(self, channel_id: str, ts: str) -> Message | None:
        """Delete a message. A root with replies becomes a tombstone, as in Slack."""
        channel = self.channels[channel_id]
        message = channel.messages.get(ts)
        if message is None:
            return None
        if message.is_reply and message.thread_ts is not None:
            root = channel.messages.get(message.thread_ts)
            del channel.messages[ts]
            if root is not None:
                root.replies = [r for r in root.replies if r != ts]
                root.reply_users = list(dict.fromkeys(channel.messages[r].user for r in root.replies))
                if not root.replies:
                    root.thread_ts = None
                    if root.tombstone:
                        del channel.messages[root.ts]
        elif message.replies:
            message.tombstone = True
        else:
            del channel.messages[ts]
        self.notify()
        return message

    # ---------------------------------------------------------------- files
    def file_visible_to(self, record: FileRecord, user_id: str) -> bool:
        """Owner, or a member of (or anyone, for public channels) a conversation the file is shared in.
        A file uploaded without a channel is shared nowhere: only its uploader sees it."""
        if record.deleted:
            return False
        if record.user == user_id:
            return True
        for share in record.shares:
            channel = self.channels.get(share.channel)
            if channel is not None and self.can_see(channel, user_id):
                return True
        return False

    # -------------------------------------------------------------- statuses
    def status_history(self, channel_id: str, thread_ts: str) -> list[StatusEntry]:
        return self.statuses.setdefault((channel_id, thread_ts), [])

    def record_status(self, channel_id: str, thread_ts: str, entry: StatusEntry) -> None:
        self.status_history(channel_id, thread_ts).append(entry)
        self.notify()

    def current_status(self, channel_id: str, thread_ts: str) -> str:
        history = self.statuses.get((channel_id, thread_ts))
        return history[-1].status if history else ""
