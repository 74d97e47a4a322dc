"""Exactly once, nothing lost, several replicas on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from emulators.anthropic import AnthropicEmulator, Delay, ModelRequest, Say, Step
from emulators.slack import SlackEmulator
from tests import postgres
from tests.balancer import Balancer
from tests.e2e.conftest import StartBot
from tests.e2e.helpers import bot_messages, poll_until
from tests.harness import BotProcess, free_port

# 100 answers in a few seconds in one channel would exceed Slack's rate tiers: this test is about
# exactly-once delivery, so the bot relies on 429s only (the emulator does not enforce tiers here).
FAST = {"slack_rate_limits": "off"}
THREADS = 20
ROUNDS = 5  # 20 threads x 5 messages = 100 messages
KILL_ROUND = 2
TOKEN = re.compile(r"\bt\d+m\d+\b")


def echo_tokens(request: ModelRequest) -> list[Step]:
    """Answer every message of the turn by its token, after a pause (so replicas are caught mid-turn):
    a long one for the round during which a replica is killed, so the kill lands inside a turn even
    when the replica's log, which tells the test a turn started, is read late."""
    tokens = TOKEN.findall(request.last_user_text)
    pause = 2.0 if any(t.endswith(f"m{KILL_ROUND}") for t in tokens) else 0.4
    return [Delay(pause), Say("Answered: " + " ".join(tokens))]


async def converse(
    slack: SlackEmulator, replicas: tuple[BotProcess, BotProcess], claude: AnthropicEmulator
) -> tuple[dict[int, str], BotProcess]:
    """Post 100 messages over 20 threads; SIGKILL a replica mid-turn, mid-way. Returns the thread
    roots and the replica that survived.

    Which replica answers a thread is up to which one stores its first message first (both events of
    a mention are stored, by whichever replica each reaches), and a replica keeps a thread while its
    messages keep coming: so the one killed is whichever has a turn of the kill round running."""
    roots: dict[int, str] = {}
    victim, survivor = replicas
    for j in range(ROUNDS):
        seen = [len(r.lines) for r in replicas]
        for i in range(THREADS):
            if j == 0:
                roots[i] = await slack.post_message("ana", "general", f"t{i}m{j}", mention_bot=True)
            else:
                await slack.post_message("ben", "general", f"t{i}m{j}", thread_ts=roots[i])
        if j == KILL_ROUND:
            # Kill a replica while it has a turn of this round started and not finished.
            async def running(r: BotProcess, since: int) -> BotProcess:
                await r.wait_until(functools.partial(running_turn, since=since), timeout=20)
                return r

            waits = [asyncio.create_task(running(r, since)) for r, since in zip(replicas, seen, strict=True)]
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            victim = next(iter(done)).result()
            survivor = replicas[1] if victim is replicas[0] else replicas[0]
            await victim.kill()
        await asyncio.sleep(0.3)  # the scenario: people keep writing while turns run
    return roots, survivor


def running_turn(lines: list[str], since: int = 0) -> bool:
    """A turn started in `lines[since:]` and not ended."""
    started = {m for line in lines[since:] for m in re.findall(r"turn (\w+) in .* started", line)}
    ended = {m for line in lines[since:] for m in re.findall(r"turn (\w+) in .* ended", line)}
    return bool(started - ended)


def answered_tokens(slack: SlackEmulator, root: str) -> list[str]:
    """The tokens answered, in order. A partial answer the bot marked interrupted (its replica died
    mid-answer; the turn then ran again in full) is not an answer."""
    return [
        t
        for m in bot_messages(slack, "general", root)
        if "(interrupted: the bot restarted)" not in m.text
        for t in TOKEN.findall(m.text)
    ]


def deliveries(slack: SlackEmulator, marker: str) -> list[tuple[object, ...]]:
    """How the messages containing `marker` were delivered (for a failure's message)."""
    return [
        (
            e.payload["event"].get("text"),
            e.payload["event"].get("type"),
            e.retry_attempt,
            e.connection_id,
            e.acked_at,
        )
        for e in slack.envelopes
        if marker in str(e.payload.get("event", {}).get("text"))
    ]


async def store_rows(pg_url: str, thread_ts: str) -> dict[str, list[dict[str, object]]]:
    """The store's rows for one thread (for a failure's message: where a message got stuck)."""
    import asyncpg

    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        pattern = f"%:{thread_ts}"
        queries = {
            "threads": "SELECT key, lease_owner, lease_expires FROM threads WHERE key LIKE $1",
            "inbox": "SELECT id, ts, text, state, turn_id, received_at FROM inbox WHERE thread_key LIKE $1 ORDER BY id",
            "turns": "SELECT id, owner, state, outcome, started_at FROM turns WHERE thread_key LIKE $1 ORDER BY started_at",
        }
        return {name: [dict(r) for r in await conn.fetch(q, pattern)] for name, q in queries.items()}
    finally:
        await conn.close()


async def assert_exactly_once_in_order(
    slack: SlackEmulator, claude: AnthropicEmulator, roots: dict[int, str], pg_url: str
) -> None:
    def incomplete() -> dict[int, list[str]]:
        answered = {i: answered_tokens(slack, root) for i, root in roots.items()}
        return {i: tokens for i, tokens in answered.items() if len(set(tokens)) != ROUNDS}

    deadline = time.monotonic() + 90
    while missing := incomplete():
        if time.monotonic() > deadline:
            details = {
                i: (tokens, deliveries(slack, f"t{i}m"), await store_rows(pg_url, roots[i]))
                for i, tokens in missing.items()
            }
            pytest.fail(f"threads not fully answered: {details}")
        await asyncio.sleep(0.25)
    for i, root in roots.items():
        tokens = answered_tokens(slack, root)
        if tokens != [f"t{i}m{j}" for j in range(ROUNDS)]:
            answers = [(m.ts, m.text) for m in bot_messages(slack, "general", root)]
            pytest.fail(
                f"thread {i} answered out of order: {tokens}\nanswers: {answers}\n"
                f"deliveries: {deliveries(slack, f't{i}m')}\nstore: {await store_rows(pg_url, root)}"
            )
    assert max(claude.max_in_flight_per_container.values()) == 1


async def test_two_socket_mode_replicas_with_redeliveries_and_a_crash(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = echo_tokens
    slack.deliver_twice_every(5)
    one = await start_bot(database_url=pg_url, lease_seconds="3", stream_update_seconds="0.3", **FAST)
    two = await start_bot(database_url=pg_url, lease_seconds="3", stream_update_seconds="0.3", **FAST)
    await slack.wait_for(lambda: len(slack.open_connections) == 2, what="both replicas connected")
    roots, survivor = await converse(slack, (one, two), claude)
    await assert_exactly_once_in_order(slack, claude, roots, pg_url)
    assert any(e.retry_attempt > 0 for e in slack.envelopes)  # redeliveries happened
    await survivor.wait_for_line("took over turn")  # the dead replica's turn was resumed


async def test_two_http_replicas_behind_a_balancer(
    pg_url: str, slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot
) -> None:
    claude.model = echo_tokens
    ports = [free_port(), free_port()]
    one = await start_bot(
        socket_mode=False,
        database_url=pg_url,
        port=str(ports[0]),
        lease_seconds="3",
        stream_update_seconds="0.3",
        **FAST,
    )
    two = await start_bot(
        socket_mode=False,
        database_url=pg_url,
        port=str(ports[1]),
        lease_seconds="3",
        stream_update_seconds="0.3",
        **FAST,
    )
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports])
    await balancer.start()
    try:
        assert await slack.verify_url(f"{balancer.url}/slack/events")
        slack.deliver_http(f"{balancer.url}/slack/events")
        slack.deliver_twice_every(5)
        async with aiohttp.ClientSession() as http:
            for port in ports:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    assert r.status == 200
            # Forged and replayed requests are refused and start nothing.
            body = json.dumps(
                {
                    "type": "event_callback",
                    "team_id": slack.team_id,
                    "event_id": "EvForged",
                    "event": {
                        "type": "app_mention",
                        "user": slack.user_id("ana"),
                        "text": "<@U0BOT1234> t99m0",
                        "ts": "1.000001",
                        "channel": "C0123ABCD",
                    },
                }
            )
            forged = dict(slack.sign(body), **{"X-Slack-Signature": "v0=" + "0" * 64})
            replayed = slack.sign(body, timestamp=int(time.time()) - 600)
            for headers in (forged, replayed, {}):
                async with http.post(
                    f"http://127.0.0.1:{ports[0]}/slack/events", data=body, headers=headers
                ) as r:
                    assert r.status == 401
        roots, survivor = await converse(slack, (one, two), claude)
        await assert_exactly_once_in_order(slack, claude, roots, pg_url)
        assert "t99m0" not in json.dumps([r.body for r in claude.requests])
        await survivor.wait_for_line("took over turn")
    finally:
        await balancer.stop()


async def test_readiness_follows_the_database_and_a_stale_schema_is_refused(
    slack: SlackEmulator, claude: AnthropicEmulator, start_bot: StartBot, tmp_path: Path
) -> None:
    await postgres.require()
    name = await postgres.create_database()
    try:
        # Not migrated: the bot refuses to start on a schema that is behind, and says what to do.
        url = postgres.url_for(name)
        refused = BotProcess(
            env={
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_URL": slack.api_url,
                "ANTHROPIC_API_KEY": claude.api_key,
                "ANTHROPIC_BASE_URL": claude.base_url,
                "DATABASE_URL": url,
            },
            cwd=tmp_path,
        )
        await refused.start(wait_ready=False)
        assert refused.process is not None
        assert await asyncio.wait_for(refused.process.wait(), 30) == 2
        await refused.wait_for_line(r"run `python -m bot migrate`")
        # Migrated, the bot starts; readiness fails while the database is unreachable.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "migrate", cwd=tmp_path, env={"DATABASE_URL": url}
        )
        assert await proc.wait() == 0
        port = free_port()
        await start_bot(socket_mode=False, database_url=url, port=str(port))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 200
            await postgres.drop_database(name)

            async def not_ready() -> bool:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    return r.status == 503

            # Readiness is re-checked every couple of seconds, not on every probe.
            await poll_until(not_ready, timeout=10)
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
    finally:
        await postgres.drop_database(name)
