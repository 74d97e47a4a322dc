"""`SlackEmulator` methods for who is who and what the app shows them: guests' channels, user groups,
the Home tab (README "Guests and user groups", "Home tab")."""

from __future__ import annotations

from collections.abc import Iterable

from .core import Core
from .home import HomeTab, home_tab
from .modals import Modal, SubmittedValue
from .models import JSON
from .person import People


class Directory:
    _core: Core
    _people: People

    def add_usergroup(self, handle: str, members: Iterable[str], name: str | None = None) -> str:
        """A user group (`S…`) with these members (ids or names): what usergroups.users.list lists."""
        ws = self._core.ws
        return ws.add_usergroup(handle, [ws.resolve_user(m).id for m in members], name).id

    def set_usergroup_members(self, group_id: str, members: Iterable[str]) -> None:
        ws = self._core.ws
        ws.usergroups[group_id].members = [ws.resolve_user(m).id for m in members]
        self._core.notify()

    def add_to_channel(self, user: str, channel: str) -> None:
        """Invite someone (a guest, who cannot join on their own) to a conversation."""
        ws = self._core.ws
        conversation = ws.resolve_channel(channel)
        uid = ws.resolve_user(user).id
        if uid not in conversation.members:
            conversation.members.append(uid)
            self._core.notify()

    def make_workspace_admin(self, user: str, *, owner: bool = False) -> None:
        """Make someone a workspace admin (or owner): users.info says `is_admin` (and `is_owner`)."""
        person = self._core.ws.resolve_user(user)
        person.is_admin, person.is_owner = True, owner
        self._core.notify()

    def channel_creator(self, channel: str) -> str:
        """Who created the conversation (conversations.info `creator`)."""
        return self._core.ws.resolve_channel(channel).creator

    def set_channel_creator(self, channel: str, user: str) -> None:
        self._core.ws.resolve_channel(channel).creator = self._core.ws.resolve_user(user).id
        self._core.notify()

    def modal(self, user: str) -> Modal | None:
        """The modal `user` has open now (None when there is none), with the errors it shows."""
        return self._core.modals.current(user)

    async def submit_modal(
        self, user: str, values: dict[str, SubmittedValue] | None = None
    ) -> dict[str, object]:
        """Fill in `values` (by block_id or action_id: text, an option's value, or a list of them) and
        press Submit: a `view_submission`. Returns the app's ack (`response_action`, `errors`)."""
        return await self._core.modals.submit(user, values or {})

    async def close_modal(self, user: str) -> None:
        """Press Cancel: `view_closed` when the view has `notify_on_close`."""
        await self._core.modals.close(user)

    @property
    def view_submissions(self) -> list[JSON]:
        return list(self._core.modals.submissions)

    async def open_home_tab(self, user: str) -> None:
        """The person opens the app's Home tab (app_home_opened, `tab: "home"`)."""
        await self._people.open_home_tab(user)

    def home_tab(self, user: str) -> HomeTab | None:
        """The Home tab as `user` sees it now (None until a view was published for them)."""
        return home_tab(self._core, self._core.ws.resolve_user(user).id)

    @property
    def file_processing_s(self) -> float:
        """How long after its upload Slack lets a `slack_file` name an API upload (default 1 s)."""
        return self._core.settings.file_processing_s

    @file_processing_s.setter
    def file_processing_s(self, value: float) -> None:
        self._core.settings.file_processing_s = value

    @property
    def home_tab_enabled(self) -> bool:
        return self._core.settings.home_tab_enabled

    @home_tab_enabled.setter
    def home_tab_enabled(self, value: bool) -> None:
        self._core.settings.home_tab_enabled = value
