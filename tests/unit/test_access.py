"""Who may use the bot: the decision table."""

from __future__ import annotations

import pytest

from bot.governance.access import (
    AccessPolicy,
    Person,
    Place,
    Reason,
    decide,
    needs_account_lookup,
    whom_to_ask,
)

HOME = "T0HOME"
OPEN = AccessPolicy(home_team=HOME)
ana = Person("U_ANA", HOME)
channel = Place("C_GENERAL")
dm = Place("D_ANA", is_dm=True)


@pytest.mark.parametrize(
    ("policy", "person", "place", "reason"),
    [
        (OPEN, ana, channel, None),
        (OPEN, ana, dm, None),
        # Slack Connect: another organisation's person is off by default.
        (OPEN, Person("U_EXT", "T0OTHER"), channel, Reason.EXTERNAL),
        (AccessPolicy(HOME, allow_external=True), Person("U_EXT", "T0OTHER"), channel, None),
        (AccessPolicy(HOME, allowed_teams=frozenset({"T0OTHER"})), Person("U_EXT", "T0OTHER"), channel, None),
        # Guests are off by default; an account that could not be looked up is not taken either.
        (OPEN, Person("U_GUEST", HOME, is_guest=True), channel, Reason.GUEST),
        (OPEN, Person("U_WHO", HOME, is_guest=None), channel, Reason.UNKNOWN_ACCOUNT),
        (AccessPolicy(HOME, allow_guests=True), Person("U_GUEST", HOME, is_guest=True), channel, None),
        (AccessPolicy(HOME, allow_dms=False), ana, dm, Reason.DMS_OFF),
        (AccessPolicy(HOME, allowed_channels=frozenset({"C_DATA"})), ana, channel, Reason.CHANNEL),
        (AccessPolicy(HOME, allowed_channels=frozenset({"C_DATA"})), ana, Place("C_DATA"), None),
        # The channel list does not restrict DMs (they have their own switch).
        (AccessPolicy(HOME, allowed_channels=frozenset({"C_DATA"})), ana, dm, None),
        (AccessPolicy(HOME, allowed_users=frozenset({"U_BEN"})), ana, channel, Reason.USER),
        (AccessPolicy(HOME, allowed_users=frozenset({"U_ANA"})), ana, channel, None),
        (
            AccessPolicy(HOME, allowed_usergroups=frozenset({"S_DATA"})),
            Person("U_ANA", HOME, usergroups=frozenset({"S_DATA"})),
            channel,
            None,
        ),
        (AccessPolicy(HOME, allowed_usergroups=frozenset({"S_DATA"})), ana, channel, Reason.USER),
        # Admins pass the person checks, not the place checks.
        (
            AccessPolicy(HOME, allowed_users=frozenset({"U_BEN"}), admins=frozenset({"U_ANA"})),
            ana,
            channel,
            None,
        ),
        (
            AccessPolicy(HOME, admins=frozenset({"U_ANA"})),
            Person("U_ANA", HOME, is_guest=None),
            channel,
            None,
        ),
        (
            AccessPolicy(HOME, allowed_channels=frozenset({"C_DATA"}), admins=frozenset({"U_ANA"})),
            ana,
            channel,
            Reason.CHANNEL,
        ),
    ],
)
def test_decide(policy: AccessPolicy, person: Person, place: Place, reason: Reason | None) -> None:
    denial = decide(policy, person, place)
    assert (denial.reason if denial else None) == reason


def test_a_denial_says_whom_to_ask() -> None:
    policy = AccessPolicy(
        HOME, allowed_users=frozenset({"U_BEN"}), admins=frozenset({"U_ADMIN1", "U_ADMIN2"})
    )
    denial = decide(policy, ana, channel)
    assert denial is not None
    assert "<@U_ADMIN1> or <@U_ADMIN2>" in denial.message
    assert whom_to_ask([]) == "whoever runs this bot"


@pytest.mark.parametrize(
    ("policy", "team", "needed"),
    [
        (OPEN, HOME, True),  # guests must be told apart
        (AccessPolicy(HOME, allow_guests=True), HOME, False),
        (AccessPolicy(HOME, allow_guests=True, allowed_usergroups=frozenset({"S1"})), HOME, True),
        (OPEN, "T0OTHER", False),  # denied from the event alone
    ],
)
def test_when_an_account_lookup_is_needed(policy: AccessPolicy, team: str, needed: bool) -> None:
    assert needs_account_lookup(policy, team) is needed
