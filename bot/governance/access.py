"""Who may use the bot, where: the decision as a pure function of settings and what Slack says.

Deny by the most specific reason first, so the one line a person reads tells them what to do: people
from another organisation (Slack Connect: their `user_team` is not the app's workspace), guests
(restricted and ultra-restricted accounts, `users.info` `is_restricted` / `is_ultra_restricted`),
direct messages when they are off, channels outside the allow-list, people outside the user and
user-group allow-lists. An empty allow-list allows everyone; `ADMINS` pass the person checks but not
the place checks (a channel that is off is off for everyone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    EXTERNAL = "external"
    GUEST = "guest"
    UNKNOWN_ACCOUNT = "unknown_account"
    DMS_OFF = "dms_off"
    CHANNEL = "channel"
    USER = "user"


@dataclass(frozen=True)
class AccessPolicy:
    home_team: str
    allowed_users: frozenset[str] = frozenset()
    allowed_usergroups: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    # Other organisations' workspaces whose people may use the bot (Slack Connect), beyond the app's own.
    allowed_teams: frozenset[str] = frozenset()
    allow_dms: bool = True
    allow_guests: bool = False
    allow_external: bool = False
    admins: frozenset[str] = frozenset()

    @property
    def restricts_people(self) -> bool:
        return bool(self.allowed_users or self.allowed_usergroups)


@dataclass(frozen=True)
class Person:
    user_id: str
    # The person's own workspace (`user_team` of the event, or `users.info` `team_id`); None: the app's.
    team_id: str | None = None
    # None: not known (the lookup failed). Guests are denied unless allowed, so unknown is denied too.
    is_guest: bool | None = False
    usergroups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Place:
    channel_id: str
    is_dm: bool = False


@dataclass(frozen=True)
class Denial:
    reason: Reason
    message: str  # the one line for the person (ephemeral)


def is_admin(policy: AccessPolicy, user_id: str) -> bool:
    return user_id in policy.admins


def whom_to_ask(admins: Iterable[str]) -> str:
    people = sorted(admins)
    if not people:
        return "whoever runs this bot"
    if len(people) == 1:
        return f"<@{people[0]}>"
    return ", ".join(f"<@{u}>" for u in people[:-1]) + f" or <@{people[-1]}>"


def decide(policy: AccessPolicy, person: Person, place: Place) -> Denial | None:
    """None when the person may use the bot here; otherwise why not, as one line."""
    ask = whom_to_ask(policy.admins)
    team = person.team_id or policy.home_team
    if team != policy.home_team and not (policy.allow_external or team in policy.allowed_teams):
        return Denial(
            Reason.EXTERNAL,
            "This bot is only for people in the organisation that runs it, so I can't answer people from "
            f"other organisations here. Ask {ask} if that should change.",
        )
    admin = is_admin(policy, person.user_id)
    if not admin and not policy.allow_guests:
        if person.is_guest is None:
            return Denial(
                Reason.UNKNOWN_ACCOUNT,
                "I couldn't check your account with Slack just now, so I didn't take this. Try again in a minute.",
            )
        if person.is_guest:
            return Denial(Reason.GUEST, f"Guest accounts can't use this bot. Ask {ask} if you need access.")
    if place.is_dm:
        if not policy.allow_dms:
            return Denial(
                Reason.DMS_OFF,
                "I don't take direct messages in this workspace: mention me in a channel instead.",
            )
    elif policy.allowed_channels and place.channel_id not in policy.allowed_channels:
        return Denial(
            Reason.CHANNEL, f"I'm not turned on in this channel. Ask {ask} to add it, or use me where I am."
        )
    if (
        not admin
        and policy.restricts_people
        and person.user_id not in policy.allowed_users
        and not (person.usergroups & policy.allowed_usergroups)
    ):
        return Denial(
            Reason.USER, f"You're not on the list of people who may use this bot. Ask {ask} for access."
        )
    return None


def needs_account_lookup(policy: AccessPolicy, person_team: str | None) -> bool:
    """Whether deciding for this person needs `users.info` (guests) or user groups: not when the
    decision can already be made from the event (an external person who is not allowed)."""
    team = person_team or policy.home_team
    external_denied = team != policy.home_team and not (policy.allow_external or team in policy.allowed_teams)
    return not external_denied and (not policy.allow_guests or bool(policy.allowed_usergroups))
