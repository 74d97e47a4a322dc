"""Shared helpers of the store tests: a thread key, a message, claiming and finishing a turn."""

from __future__ import annotations

from bot.model import Inbound, InboundFile, InboundKind, ThreadKey, Usage
from bot.store import Store, TurnStart

KEY = ThreadKey("T1", "C1", "100.000001")


OTHER = ThreadKey("T1", "C1", "200.000001")


def msg(ts: str, text: str = "hi", key: ThreadKey = KEY, event_id: str | None = None) -> Inbound:
    return Inbound(
        key=key,
        ts=ts,
        user_id="U1",
        text=text,
        kind=InboundKind.MENTION,
        files=(InboundFile("F1", "a.csv", "text/csv", 3, "http://x/a.csv"),),
        event_id=event_id,
    )


async def claim(store: Store, owner: str, key: ThreadKey = KEY) -> TurnStart:
    start = await store.start_turn(key, owner)
    assert start is not None and start.turn_id is not None
    return start


async def finish(
    store: Store,
    start: TurnStart,
    owner: str,
    outcome: str = "answered",
    *,
    usage: Usage | None = None,
    requeue: bool = False,
    answer_ts: str | None = None,
) -> bool:
    assert start.turn_id is not None
    return await store.finish_turn(
        start.turn_id,
        start.thread.key,
        owner=owner,
        outcome=outcome,
        user_id="U1",
        model="m",
        turn_usage=usage or Usage(),
        requeue=requeue,
        answer_ts=answer_ts,
    )
