"""Which Slack events become messages to answer, checked on the shared fixture payloads."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.claude.content import safe_name
from bot.engine import Engine
from bot.model import InboundKind, ThreadKey
from bot.slack.access import AccessGate
from bot.slack.inbound import from_event, mention_token
from bot.slack.intake import Intake
from bot.store import Store
from bot.store.arrivals import Arrivals

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack" / "events_api"
BOT = "U0BOT1234"
ROOT = "1732200000.123456"


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


@pytest.mark.parametrize(
    ("fixture", "kind", "root", "needs_conversation", "files"),
    [
        ("app_mention_with_file.json", InboundKind.MENTION, ROOT, False, 1),
        # The `message` twin of that mention is a mention too (either may come alone, or first).
        ("message_file_share_channel_toplevel.json", InboundKind.MENTION, ROOT, False, 1),
        # This reply mentions the bot: a mention, whichever of its twins comes.
        ("message_thread_reply.json", InboundKind.MENTION, ROOT, False, 0),
        ("message_thread_reply_file_share.json", InboundKind.MESSAGE, ROOT, True, 1),
        ("message_im.json", InboundKind.DM, "1732200200.000300", False, 0),
        ("message_from_own_bot.json", None, None, None, None),
        ("message_changed.json", None, None, None, None),
        ("message_deleted.json", None, None, None, None),
        ("app_home_opened_messages_tab.json", None, None, None, None),
        ("file_shared.json", None, None, None, None),
    ],
)
def test_fixture_events(
    fixture: str,
    kind: InboundKind | None,
    root: str | None,
    needs_conversation: bool | None,
    files: int | None,
) -> None:
    body = load(fixture)
    candidate = from_event(
        body["event"],
        team_id=body["team_id"],
        event_id=body.get("event_id"),
        bot_user_id=BOT,
        only_when_mentioned=False,
    )
    if kind is None:
        assert candidate is None
        return
    assert candidate is not None
    inbound = candidate.inbound
    assert inbound.kind is kind
    assert root is not None
    assert inbound.key == ThreadKey("T0123ABCD", body["event"]["channel"], root)
    assert candidate.needs_conversation is needs_conversation
    assert len(inbound.files) == files
    assert "<@U0BOT1234>" not in inbound.text


@pytest.mark.parametrize(
    ("fixture", "drop_files", "awaits_twin"),
    [
        ("app_mention_with_file.json", False, False),  # it has the files: nothing to wait for
        ("app_mention_with_file.json", True, True),  # sparse (openclaw#62927): its twin may bring some
        ("message_file_share_channel_toplevel.json", False, False),  # the twin with the files
        ("message_thread_reply.json", False, False),  # a `message` is the rich event itself
    ],
)
def test_both_twins_of_a_mention_are_taken_and_a_sparse_app_mention_waits(
    fixture: str, drop_files: bool, awaits_twin: bool
) -> None:
    event = dict(load(fixture)["event"])
    if drop_files:
        event.pop("files")
    candidate = from_event(
        event, team_id="T0123ABCD", event_id="E1", bot_user_id=BOT, only_when_mentioned=False
    )
    assert candidate is not None and candidate.inbound.kind is InboundKind.MENTION
    assert candidate.inbound.awaits_twin is awaits_twin


def test_an_edited_mention_is_not_a_new_question() -> None:
    event = dict(
        load("app_mention_with_file.json")["event"], edited={"user": "U0123ABCD", "ts": "1732200999.000000"}
    )
    assert (
        from_event(event, team_id="T0123ABCD", event_id="E3", bot_user_id=BOT, only_when_mentioned=False)
        is None
    )


def test_people_from_another_organisation_write_in_the_same_conversation() -> None:
    """In a channel shared over Slack Connect, `event.team` is the sender's own workspace."""
    event = dict(plain_reply(), team="T0EXTERNAL", user="UEXT0001")
    candidate = from_event(
        event, team_id="T0123ABCD", event_id=None, bot_user_id=BOT, only_when_mentioned=False
    )
    assert candidate is not None and candidate.inbound.key.team_id == "T0123ABCD"
    assert candidate.inbound.user_team == "T0EXTERNAL"  # where an answer streamed to them must go


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"user_team": "T0EXTERNAL", "team": "T0EXTERNAL"}, "T0EXTERNAL"),
        ({"user_team": "T0EXTERNAL"}, "T0EXTERNAL"),
        ({"team": "T0123ABCD"}, None),  # the workspace's own people
        ({}, None),  # file_share events may lack `team` (slack-api-specs#62)
    ],
)
def test_the_senders_team(fields: dict[str, str], expected: str | None) -> None:
    event = {k: v for k, v in plain_reply().items() if k not in ("team", "user_team")} | fields
    candidate = from_event(
        event, team_id="T0123ABCD", event_id=None, bot_user_id=BOT, only_when_mentioned=False
    )
    assert candidate is not None and candidate.inbound.user_team == expected


def test_a_mention_in_a_group_dm_is_stored_from_its_message_event_too() -> None:
    event = dict(load("message_thread_reply.json")["event"], channel="G0MPIM", channel_type="mpim")
    assert mention_token(BOT) in event["text"]
    candidate = from_event(
        event, team_id="T0123ABCD", event_id="E4", bot_user_id=BOT, only_when_mentioned=False
    )
    assert candidate is not None and candidate.inbound.kind is InboundKind.MENTION


def plain_reply() -> dict[str, Any]:
    return dict(load("message_thread_reply.json")["event"], text="now print the first 5 rows")


def test_a_plain_reply_continues_only_an_existing_conversation() -> None:
    candidate = from_event(
        plain_reply(), team_id="T", event_id=None, bot_user_id=BOT, only_when_mentioned=False
    )
    assert candidate is not None
    assert candidate.inbound.kind is InboundKind.MESSAGE and candidate.needs_conversation
    assert not candidate.inbound.wants_thread_context


def test_other_bots_never_start_a_turn() -> None:
    event = dict(load("message_thread_reply.json")["event"], bot_id="B0OTHER", user="U0OTHERBOT")
    assert from_event(event, team_id="T", event_id=None, bot_user_id=BOT, only_when_mentioned=False) is None


def test_only_when_mentioned_ignores_plain_replies() -> None:
    assert (
        from_event(plain_reply(), team_id="T", event_id=None, bot_user_id=BOT, only_when_mentioned=True)
        is None
    )


def test_mention_inside_an_existing_thread_asks_for_context() -> None:
    event = dict(
        load("message_thread_reply.json")["event"],
        type="app_mention",
        text="<@U0BOT1234> what do you make of this?",
    )
    candidate = from_event(event, team_id="T", event_id=None, bot_user_id=BOT, only_when_mentioned=False)
    assert candidate is not None
    assert candidate.inbound.kind is InboundKind.MENTION and candidate.inbound.wants_thread_context
    assert candidate.inbound.text == "what do you make of this?"


def test_slack_connect_stub_files() -> None:
    event = dict(
        load("app_mention_with_file.json")["event"],
        files=[{"id": "F0STUB", "file_access": "check_file_info"}],
    )
    candidate = from_event(event, team_id="T", event_id=None, bot_user_id=BOT, only_when_mentioned=False)
    assert candidate is not None and candidate.inbound.files[0].stub


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("sales.csv", [], "sales.csv"),
        ("sales.csv", ["sales.csv"], "sales (2).csv"),
        ("sales.csv", ["SALES.CSV", "sales (2).csv"], "sales (3).csv"),
        ("../../etc/passwd", [], "_.._etc_passwd"),
        ('q3:"final"?.xlsx', [], "q3__final__.xlsx"),
        ("", [], "file"),
        ("README", ["README"], "README (2)"),
    ],
)
def test_safe_unique_names(name: str, taken: list[str], expected: str) -> None:
    assert safe_name(name, taken) == expected


@pytest.mark.parametrize(
    ("fixture", "counted"),
    [
        ("app_mention_with_file.json", True),
        ("message_file_share_channel_toplevel.json", True),  # a mention's twin: it may carry the files
        ("message_from_own_bot.json", False),  # the echo of the bot's own post
        ("message_changed.json", False),
    ],
)
async def test_only_what_must_be_stored_counts_towards_a_burst(fixture: str, counted: bool) -> None:
    """Echoes are acknowledged at once; counted, a steady stream of conversations (each answer echoed
    back) looked like a burst and held back every turn's start."""
    arrivals = Arrivals(burst=1)
    intake = Intake(
        engine=cast(Engine, None),
        store=cast(Store, SimpleNamespace(arrivals=arrivals)),
        gate=cast(AccessGate, None),
        team_id="T0123ABCD",
        bot_user_id=BOT,
        needs_mention=lambda _channel: False,
    )
    intake.candidate(load(fixture))
    assert arrivals.in_burst is counted
