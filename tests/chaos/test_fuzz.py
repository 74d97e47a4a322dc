"""Fuzz: 1,000+ generated message events over Socket Mode, and truncated bodies on the HTTP endpoint.

Malformed payloads (fields missing or of the wrong type, timestamps that are not, unknown subtypes,
huge texts, odd unicode, files of unknown shapes) must never crash the process or leave an unhandled
exception in its log, and each one turned away must be logged once (bot/slack/event_shape.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.event_shape import problem, routing_problem
from emulators.anthropic import AnthropicEmulator, Say
from emulators.slack import SlackEmulator
from tests.e2e.conftest import StartBot
from tests.harness import free_port

EVENTS = 1_100
TRUNCATED = 200
CRASH_SIGNS = ("Traceback", "Task exception was never retrieved", "exception in callback", "CRITICAL")

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)  # no lone surrogates: not sendable
HUGE = st.sampled_from(["x" * 45_000, "🙂" * 20_000, "\u202e" * 5_000 + "mirror", "<@U0BOT1234> " * 3_000])
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    TEXT,
)
TS = st.builds(
    lambda a, b: f"{a}.{b:06d}", st.integers(1_600_000_000, 1_900_000_000), st.integers(0, 999_999)
)


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, JUNK)


FILE = st.one_of(
    st.fixed_dictionaries(
        {"id": field(st.sampled_from(["F0001", "F0002"]))},
        optional={
            "name": field(TEXT),
            "mimetype": field(st.sampled_from(["text/csv", "image/png", "application/x-unknown"])),
            "size": field(st.integers(0, 10**12)),
            "url_private": field(st.just("https://files.slack.com/nowhere")),
            "file_access": field(st.sampled_from(["check_file_info", "visible"])),
            "mode": st.sampled_from(["hosted", "external", "tombstone", "hidden_by_limit", "snippet"]),
        },
    ),
    JUNK,
)
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "app_mention", "message", "app_mention", "reaction_added"])},
    optional={
        "user": field(st.sampled_from(["U0123ABCD", "U0BOT1234", "UNKNOWN01"])),
        "channel": field(st.sampled_from(["C0123ABCD", "D0NOWHERE", "C0UNKNOWN"])),
        "ts": field(TS),
        "thread_ts": field(TS),
        "text": st.one_of(field(TEXT), HUGE),
        "subtype": field(
            st.sampled_from(
                ["file_share", "thread_broadcast", "bot_message", "me_message", "huddle_thread", "x_new_kind"]
            )
        ),
        "channel_type": field(st.sampled_from(["channel", "im", "group", "mpim", "unknown"])),
        "files": st.one_of(st.lists(FILE, max_size=3), JUNK),
        "edited": field(st.fixed_dictionaries({"user": st.just("U0123ABCD")})),
        "bot_id": field(st.just("B0OTHER01")),
        "blocks": JUNK,
    },
)


def generate(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` examples drawn by hypothesis (seeded: the same payloads on every run)."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(example: Any) -> None:
        drawn.append(example)

    draw()
    return drawn


def crash_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if any(sign in line for sign in CRASH_SIGNS)]


async def test_generated_message_events_over_socket_mode(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    claude.model = lambda request: [Say("ok")]
    events = generate(EVENT, EVENTS)
    assert len(events) >= 1_000
    bot = await start_bot(slack_rate_limits="off")
    rejected: list[str] = []  # message events, logged by event id
    unroutable: list[str] = []  # other events, logged by envelope id
    for n, event in enumerate(events):
        event = {**event, "event_ts": f"{1_700_000_000 + n}.000000"}  # the emulator's own envelope field
        envelope = await slack.send_event(event, "C0123ABCD")
        if event["type"] in ("message", "app_mention"):
            if problem(envelope.payload) is not None:
                rejected.append(str(envelope.payload["event_id"]))
        elif routing_problem(envelope.payload) is not None:
            unroutable.append(envelope.envelope_id)
    # Message events are acknowledged once stored or turned away (others have no listener: Bolt leaves
    # them unacknowledged, and Slack gives up after its retries).
    messages = [e for e in slack.envelopes if e.payload["event"]["type"] in ("message", "app_mention")]
    await slack.wait_for(lambda: all(e.acked for e in messages), timeout=60, what="every message event acked")
    assert bot.process is not None and bot.process.returncode is None
    assert crash_lines(bot.lines) == []
    assert len(rejected) > 200  # the generator does produce malformed events
    # An event is acknowledged right after its warning is written; the log pipe may be read later.
    await bot.wait_until(
        lambda lines: (
            sum("ignoring a malformed" in line for line in lines) >= len(rejected) + len(unroutable)
        ),
        timeout=30,
    )
    malformed = [line for line in bot.lines if "bot.slack.intake: ignoring a malformed" in line]
    counts = {event_id: sum(repr(event_id) in line for line in malformed) for event_id in rejected}
    assert all(c == 1 for c in counts.values()), {k: c for k, c in counts.items() if c != 1}
    assert len(malformed) == len(rejected)
    assert unroutable
    unrouted = [line for line in bot.lines if "ignoring a malformed event (envelope" in line]
    assert sorted(line.split("(envelope ")[1].split(")")[0] for line in unrouted) == sorted(unroutable)


async def test_truncated_and_garbled_bodies_on_the_http_endpoint(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = lambda request: [Say("ok")]
    port = free_port()
    bot = await start_bot(socket_mode=False, port=str(port))
    whole = json.dumps(
        {
            "type": "event_callback",
            "team_id": slack.team_id,
            "event_id": "EvFuzz",
            "event": {
                "type": "app_mention",
                "user": "U0123ABCD",
                "text": "<@U0BOT1234> hi",
                "ts": "1.000001",
                "channel": "C0123ABCD",
            },
        }
    )
    cuts = sorted({1 + (i * 7919) % (len(whole) - 1) for i in range(TRUNCATED)})
    statuses = []
    async with aiohttp.ClientSession() as http:
        for cut in cuts:
            body = whole[:cut]
            headers = dict(slack.sign(body), **{"Content-Type": "application/json"})
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r:
                statuses.append(r.status)
        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
    assert all(400 <= s < 500 for s in statuses), sorted(set(statuses))
    assert bot.process is not None and bot.process.returncode is None
    assert crash_lines(bot.lines) == []
