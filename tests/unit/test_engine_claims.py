"""The engine runs every turn the store claims along with a message, in the order claimed.

The store may claim a thread's turn in the transaction that stores a message (see Store.enqueue). Two
messages of one new thread stored in different batches each come back with a claim, and either may be
the one that holds the turn (a burst's claim runs after a later small batch claimed inline). A claimed
turn that no worker runs would keep its messages claimed for ever: nobody would answer them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from bot.claude.api import ClaudeApi
from bot.config import Settings
from bot.engine.control import TurnControl
from bot.engine.engine import Engine
from bot.engine.turn import TurnRunner
from bot.model import Inbound, InboundKind, ThreadKey, TurnOutcome, Usage
from bot.slack.surface import SlackSurface
from bot.store import Enqueued, Store, TurnStart, open_store
from bot.store.arrivals import Arrivals
from bot.store.records import InboxItem, ThreadState

KEY = ThreadKey("T1", "C1", "100.000001")


def inbound(ts: str) -> Inbound:
    return Inbound(KEY, ts, "U1", f"message {ts}", InboundKind.MENTION)


def turn(turn_id: str, *timestamps: str) -> TurnStart:
    items = tuple(
        InboxItem(n, ts, "U1", InboundKind.MENTION, f"message {ts}", (), False)
        for n, ts in enumerate(timestamps)
    )
    return TurnStart(ThreadState(KEY, 0, None, None, False, 0), turn_id, items)


class FakeStore:
    """Answers each enqueue with the claim the test gives it, once the test releases it."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.answers: asyncio.Queue[Enqueued] = asyncio.Queue()
        self.released = asyncio.Event()
        self.started: list[str] = []

    async def enqueue(self, message: Inbound, **_: Any) -> Enqueued:
        await self.released.wait()
        return self.answers.get_nowait()

    async def start_turn(self, key: ThreadKey, owner: str) -> TurnStart:
        self.started.append(owner)
        return TurnStart(ThreadState(key, 0, None, None, True, 0), None, ())

    async def release_all(self, owner: str) -> None:
        return None

    async def goodbye(self, owner: str) -> None:
        return None


class FakeSlack:
    async def show_working(self, *_: Any) -> None:
        return None

    async def react(self, *_: Any) -> None:
        return None


class FakeRunner:
    owner = "me"

    def __init__(self) -> None:
        self.ran: list[tuple[str, list[str]]] = []
        self.done = asyncio.Event()

    async def run(self, start: TurnStart, control: TurnControl) -> tuple[TurnOutcome, bool]:
        assert start.turn_id is not None
        self.ran.append((start.turn_id, [item.ts for item in start.items]))
        self.done.set()
        return TurnOutcome.ANSWERED, False


async def run_claims(
    first_claim: TurnStart | None, second_claim: TurnStart | None
) -> tuple[FakeRunner, FakeStore]:
    store, runner = FakeStore(), FakeRunner()
    engine = Engine(
        Settings.model_construct(max_concurrent_turns=4),
        cast(Store, store),
        cast(SlackSurface, FakeSlack()),
        cast(ClaudeApi, None),
        cast(TurnRunner, runner),
    )
    engine._peers = False  # a single process: no lost deliveries to look for
    loop = asyncio.get_running_loop()
    claims: list[asyncio.Future[TurnStart | None]] = [loop.create_future(), loop.create_future()]
    for claim in claims:
        store.answers.put_nowait(Enqueued(new=True, thread_busy=False, claimed=claim))
    # Both messages reach the store before either answer is back: neither sees a worker yet.
    submits = [asyncio.create_task(engine.submit(inbound(ts))) for ts in ("100.000001", "100.000002")]
    await asyncio.sleep(0)
    store.released.set()
    await asyncio.gather(*submits)
    # Only now does the first batch's claim resolve: the second batch had claimed inline meanwhile.
    claims[1].set_result(second_claim)
    claims[0].set_result(first_claim)
    await asyncio.wait_for(runner.done.wait(), 5)
    await engine.shutdown(grace_seconds=5)
    return runner, store


async def test_a_turn_claimed_by_a_later_batch_is_run() -> None:
    runner, _ = await run_claims(None, turn("t2", "100.000001", "100.000002"))
    assert runner.ran == [("t2", ["100.000001", "100.000002"])]


async def test_a_turn_claimed_by_the_first_batch_is_run() -> None:
    runner, _ = await run_claims(turn("t1", "100.000001"), None)
    assert runner.ran[0] == ("t1", ["100.000001"])


def reply(ts: str) -> Inbound:
    return Inbound(KEY, ts, "U1", f"message {ts}", InboundKind.MESSAGE)


class LostDeliverySlack(FakeSlack):
    """A thread where one reply was posted but never delivered (its replica died): Slack has it."""

    def __init__(self, lost: Inbound) -> None:
        self.lost = lost
        self.asked: list[str] = []

    async def missed_messages(self, key: ThreadKey, after_ts: str, known: set[str]) -> list[Inbound]:
        self.asked.append(after_ts)
        return [self.lost] if self.lost.ts not in known and float(self.lost.ts) > float(after_ts) else []


async def test_with_other_replicas_a_reply_waits_for_an_earlier_lost_delivery(tmp_path: Path) -> None:
    """With peers, a reply's turn is not claimed with the reply: the worker first asks Slack for
    replies a dead replica never stored, so an earlier message is not answered after a later one."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/bot.db", lease_seconds=30)
    await store.enqueue(inbound("100.000001"))
    first = await store.start_turn(KEY, "me")
    assert first is not None and first.turn_id is not None
    await store.finish_turn(
        first.turn_id, KEY, owner="me", outcome="answered", user_id="U1", model="m", turn_usage=Usage()
    )
    slack, runner = LostDeliverySlack(reply("100.000003")), FakeRunner()
    engine = Engine(
        Settings.model_construct(max_concurrent_turns=4),
        store,
        cast(SlackSurface, slack),
        cast(ClaudeApi, None),
        cast(TurnRunner, runner),
    )
    assert engine._peers  # another replica was seen (the default until the first heartbeat)
    try:
        await engine.submit(reply("100.000004"), in_conversation_only=True)
        await asyncio.wait_for(runner.done.wait(), 5)
        assert slack.asked == ["100.000001"]
        assert [ts for _, ts in runner.ran] == [["100.000003", "100.000004"]]
    finally:
        await engine.shutdown(grace_seconds=5)
        await store.close()
