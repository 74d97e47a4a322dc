"""The access gate looks up only what the decision needs, once per person (then from its cache)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.governance.access import AccessPolicy, Place, Reason
from bot.slack.access import AccessGate
from bot.slack.people import Accounts, UserGroups
from bot.slack.rate_limits import RateBudget
from bot.store import Store

HOME = "T0HOME"
USERS = {
    "U_ANA": {"team_id": HOME, "is_restricted": False},
    "U_GUEST": {"team_id": HOME, "is_restricted": True, "is_ultra_restricted": True},
    "U_EXT": {"team_id": "T0OTHER", "is_restricted": False},
}
GROUPS = {"S_DATA": ["U_ANA"], "S_OPS": []}


class FakeSlack:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def users_info(self, *, user: str) -> dict[str, Any]:
        self.calls["users.info"] += 1
        return {"ok": True, "user": {"id": user, "name": user.lower(), **USERS[user]}}

    async def users_list(self, *, limit: int, cursor: str | None = None) -> dict[str, Any]:
        """Two pages, the first shorter than asked for (Slack may do that and still have more)."""
        self.calls["users.list"] += 1
        ids = sorted(u for u, user in USERS.items() if user["team_id"] == HOME)
        page, more = (ids[:1], "next") if cursor is None else (ids[1:], "")
        members = [{"id": u, "name": u.lower(), **USERS[u]} for u in page]
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": more}}

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.calls[f"usergroups.users.list {usergroup}"] += 1
        return {"ok": True, "users": GROUPS[usergroup]}


def gate(policy: AccessPolicy) -> tuple[AccessGate, FakeSlack]:
    slack = FakeSlack()
    client = cast(AsyncWebClient, slack)
    budget = RateBudget(enabled=False)
    return (
        AccessGate(policy, cast(Store, None), client, budget, Accounts(client, budget), UserGroups(client)),
        slack,
    )


GENERAL = Place("C_GENERAL")


@pytest.mark.parametrize(
    ("policy", "user", "team", "known", "reason", "calls"),
    [
        # Guests allowed, no groups: a person of the workspace needs no lookup at all.
        (AccessPolicy(HOME, allow_guests=True), "U_ANA", None, True, None, {}),
        # Guests off (the default): one users.info, whatever the event.
        (AccessPolicy(HOME), "U_ANA", None, True, None, {"users.info": 1}),
        (AccessPolicy(HOME), "U_GUEST", None, True, Reason.GUEST, {"users.info": 1}),
        # Another organisation, not allowed: decided from the event alone.
        (AccessPolicy(HOME), "U_EXT", "T0OTHER", True, Reason.EXTERNAL, {}),
        # A command names no organisation: users.info does (unless everyone from anywhere may).
        (AccessPolicy(HOME, allow_guests=True), "U_EXT", None, False, Reason.EXTERNAL, {"users.info": 1}),
        (AccessPolicy(HOME, allow_guests=True, allow_external=True), "U_EXT", None, False, None, {}),
        # Groups are listed a group at a time, and not at all for someone on the user list.
        (
            AccessPolicy(HOME, allow_guests=True, allowed_usergroups=frozenset({"S_DATA", "S_OPS"})),
            "U_ANA",
            None,
            True,
            None,
            {"usergroups.users.list S_DATA": 1, "usergroups.users.list S_OPS": 1},
        ),
        (
            AccessPolicy(
                HOME,
                allow_guests=True,
                allowed_users=frozenset({"U_ANA"}),
                allowed_usergroups=frozenset({"S_OPS"}),
            ),
            "U_ANA",
            None,
            True,
            None,
            {},
        ),
    ],
)
async def test_only_what_the_decision_needs_is_looked_up_and_only_once(
    policy: AccessPolicy,
    user: str,
    team: str | None,
    known: bool,
    reason: Reason | None,
    calls: dict[str, int],
) -> None:
    checks, slack = gate(policy)
    for _ in range(3):
        denial = await checks.check(user, GENERAL, team_id=team, team_known=known)
        assert (denial.reason if denial else None) == reason
    assert dict(slack.calls) == calls


async def test_someone_slack_cannot_tell_about_is_not_taken() -> None:
    checks, slack = gate(AccessPolicy(HOME))

    async def refused(*, user: str) -> dict[str, Any]:
        response = SimpleNamespace(data={"ok": False, "error": "user_not_found"})
        raise SlackApiError("user_not_found", response)  # type: ignore[no-untyped-call]

    slack.users_info = refused  # type: ignore[method-assign]
    denial = await checks.check("U_WHO", GENERAL, team_known=True)
    assert denial is not None and denial.reason is Reason.UNKNOWN_ACCOUNT


async def test_people_known_from_the_workspace_list_need_no_lookup() -> None:
    checks, slack = gate(AccessPolicy(HOME))
    await checks.warm_up(wait=5)
    assert slack.calls == {"users.list": 2}
    assert await checks.check("U_ANA", GENERAL, team_known=True) is None
    denial = await checks.check("U_GUEST", GENERAL, team_known=True)
    assert denial is not None and denial.reason is Reason.GUEST
    assert slack.calls == {"users.list": 2}  # no users.info: both were known
    # Someone from another organisation is not listed: looked up on first contact.
    assert await checks.check("U_EXT", GENERAL) is not None
    assert slack.calls["users.info"] == 1
