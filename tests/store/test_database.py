"""The SQLite thread's order of work: the inbox first, then what a person waits to see, then the rest."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Connection

from bot.store.database import ANSWER, INBOX, NORMAL, Database


async def test_queued_writes_run_by_priority_then_arrival(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    ran: list[str] = []
    release = threading.Event()
    try:
        # Hold the thread so that everything after queues up behind this write.
        blocker = asyncio.create_task(db.write(lambda conn: release.wait(5)))

        def step(name: str) -> Callable[[Connection], None]:
            def tx(conn: Connection) -> None:
                ran.append(name)

            return tx

        queued: list[asyncio.Task[None]] = []
        for name, priority in [
            ("finish a", NORMAL),
            ("save a", ANSWER),
            ("heartbeat", NORMAL),
            ("inbox 1", INBOX),
            ("save b", ANSWER),
            ("inbox 2", INBOX),
        ]:
            queued.append(asyncio.create_task(db.write(step(name), priority=priority)))
            await asyncio.sleep(0)  # each reaches the queue before the next
        release.set()
        await asyncio.gather(blocker, *queued)
        assert ran == ["inbox 1", "inbox 2", "save a", "save b", "finish a", "heartbeat"]
    finally:
        await db.close()


async def test_inbox_writes_commit_durably_and_the_rest_do_not(tmp_path: Path) -> None:
    """A stored message is acknowledged to Slack, which never sends it again: on SQLite its commit must
    survive a power loss (synchronous=FULL); a turn's writes keep the cheaper NORMAL."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.db")

    def level(conn: Connection) -> int:
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())

    try:
        full, normal = 2, 1  # sqlite.org/pragma.html#pragma_synchronous
        assert await db.write(level, priority=INBOX) == full
        assert await db.write(level, priority=ANSWER) == normal
        assert await db.write(level, priority=INBOX) == full  # the same pooled connection, switched back
        assert await db.write(level) == normal
    finally:
        await db.close()
