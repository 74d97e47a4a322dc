"""Who people are in Slack: their account (users.info) and the members of user groups.

One users.info answer serves the names in a thread's history and the access decision (its
`team_id`, and `is_restricted` / `is_ultra_restricted` for guests: docs.slack.dev/reference/
objects/user-object), cached and refreshed in the background every ACCOUNT_MAX_AGE. At start-up the
cache is filled from users.list, up to PAGE_SIZE people per call (Tier 2), so that the first message of
someone the bot has not seen yet does not wait for a lookup before it is acknowledged: a burst of new
people would otherwise queue behind users.info's 100 calls a minute. User groups are
looked up a group at a time (usergroups.users.list is Tier 2, 20 a minute), never per person, and
refreshed every GROUP_MAX_AGE: someone added to a group may use the bot within that long.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import error_code
from bot.slack.lookups import Lookups
from bot.slack.rate_limits import RateBudget

log = logging.getLogger(__name__)

ACCOUNT_CACHE_SIZE = 20_000
ACCOUNT_MAX_AGE = 600.0
# users.list is Tier 2 (20 calls a minute): big pages, fewer calls. Slack may answer fewer than asked
# for and still have more (docs.slack.dev/apis/web-api/pagination; python-slack-sdk#1494).
PAGE_SIZE = 1000
GROUP_MAX_AGE = 300.0


@dataclass(frozen=True)
class Account:
    user_id: str
    name: str
    team_id: str | None  # the person's own workspace (another organisation's over Slack Connect)
    # None: Slack did not say (the lookup was refused); such an account is treated as a guest's.
    is_guest: bool | None
    # A workspace admin or owner (`is_admin` / `is_owner` / `is_primary_owner`): may configure channels.
    is_admin: bool = False


class Accounts:
    def __init__(self, client: AsyncWebClient, budget: RateBudget) -> None:
        self.client = client
        self.budget = budget
        self._cache: Lookups[Account] = Lookups(ACCOUNT_CACHE_SIZE, max_age=ACCOUNT_MAX_AGE)

    def known(self, user_id: str) -> bool:
        return self._cache.cached(user_id) is not None

    async def get(self, user_id: str) -> Account:
        """The account. An id Slack does not know (a bot's `B…` id in a thread's history) gives one
        that knows nothing, kept until the next refresh; any other failure raises, and nothing is
        kept (the next message asks again)."""
        return await self._cache.get(user_id, lambda: self._fetch(user_id))

    async def _fetch(self, user_id: str) -> Account:
        await self.budget.take("users.info")
        try:
            resp = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            if error_code(exc) != "user_not_found":
                raise
            log.info("users.info %s: user_not_found (its name falls back to the id)", user_id)
            return Account(user_id, user_id, None, None)
        return account_of(resp["user"])

    async def warm(self) -> int:
        """Know everyone in the workspace (users.list, page by page, up to the cache's size): how many."""
        known = 0
        cursor: str | None = None
        while known < ACCOUNT_CACHE_SIZE:
            page = await self.client.users_list(limit=PAGE_SIZE, cursor=cursor)
            for user in page.get("members") or []:
                if user.get("id"):
                    self._cache.put(str(user["id"]), account_of(user))
                    known += 1
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return known


def account_of(user: Mapping[str, Any]) -> Account:
    """An account from a user object (users.info, users.list)."""
    user_id = str(user["id"])
    profile = user.get("profile") or {}
    return Account(
        user_id=user_id,
        name=str(profile.get("display_name") or user.get("real_name") or user.get("name") or user_id),
        team_id=str(user.get("team_id") or "") or None,
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
    )


class UserGroups:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: Lookups[frozenset[str]] = Lookups(1000, max_age=GROUP_MAX_AGE)

    def known(self, group_id: str) -> bool:
        return self._cache.cached(group_id) is not None

    async def members(self, group_id: str) -> frozenset[str]:
        """The group's members; a group Slack will not list (a wrong id, `usergroups:read` missing)
        has none, and the operator is told in the log. A connection failure raises."""
        return await self._cache.get(group_id, lambda: self._fetch(group_id))

    async def _fetch(self, group_id: str) -> frozenset[str]:
        try:
            resp = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            code = error_code(exc)
            fix = (
                "add the usergroups:read scope (or re-create the app from manifest.yaml) and reinstall the app"
                if code == "missing_scope"
                else "check the group's id in ALLOWED_USERGROUPS (S...)"
            )
            log.error(
                "usergroups.users.list %s failed: %s: %s; nobody counts as its member", group_id, code, fix
            )
            return frozenset()
        return frozenset(str(u) for u in resp.get("users") or [])
