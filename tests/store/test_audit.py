"""The audit log: entries come back newest first, per thread or all."""

from __future__ import annotations

from bot.model import ThreadKey
from bot.store import Store

KEY = ThreadKey("T1", "C1", "100.000001")


async def test_audit_entries_newest_first_and_per_thread(store: Store) -> None:
    await store.audit("U1", "stop", thread=KEY, detail={"turn": "t1"})
    await store.audit("U2", "reset", thread=KEY)
    await store.audit("U3", "budget", channel_id="C9", detail={"daily_usd": 5})
    entries = await store.audit_log()
    assert [(e.actor, e.action) for e in entries] == [("U3", "budget"), ("U2", "reset"), ("U1", "stop")]
    assert entries[0].channel_id == "C9" and entries[0].detail == {"daily_usd": 5}
    assert entries[2].thread_key == str(KEY) and entries[2].channel_id == "C1"
    assert [e.action for e in await store.audit_log(thread=KEY)] == ["reset", "stop"]
