"""Leases: one process per thread at a time, renewed by heartbeat, released on a clean shutdown."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from bot.model import ThreadKey
from bot.store.base import StoreBase
from bot.store.schema import inbox, replicas, threads, turns


class LeaseStore(StoreBase):
    """Which process is alive and which threads it holds: heartbeats, lease renewal and release, and
    the threads nobody is working on."""

    async def heartbeat(self, owner: str, *, recent_seconds: float) -> bool:
        """Record that this process is alive; True when another process was seen within
        `recent_seconds` (a live peer, or a predecessor that stopped without saying goodbye)."""
        now = time.time()

        def tx(conn: Connection) -> bool:
            conn.execute(
                self.db.insert(replicas)
                .values(owner=owner, started_at=now, seen_at=now)
                .on_conflict_do_update(index_elements=["owner"], set_={"seen_at": now})
            )
            other = conn.scalar(
                select(replicas.c.owner)
                .where(replicas.c.owner != owner, replicas.c.seen_at > now - recent_seconds)
                .limit(1)
            )
            conn.execute(delete(replicas).where(replicas.c.seen_at < now - 7 * 86400))
            return other is not None

        return await self.db.write(tx)

    async def goodbye(self, owner: str) -> None:
        """A clean shutdown: nothing was lost with this process, peers need not look for it."""
        await self.db.write(lambda conn: conn.execute(delete(replicas).where(replicas.c.owner == owner)))

    async def renew_leases(self, owner: str, keys: Iterable[ThreadKey]) -> set[ThreadKey]:
        """Extend this owner's leases on the threads it is working on, and return those it still holds.
        Only those threads: one whose worker is gone (it crashed) must see its lease expire so that the
        sweeper restarts it. A thread missing from the answer was taken over by another replica while
        this one could not renew (cut off from the database): its turn must stop (see fencing.py)."""
        now = time.time()
        skeys = [str(k) for k in keys]

        def tx(conn: Connection) -> Any:
            return conn.execute(
                update(threads)
                .where(threads.c.lease_owner == owner, threads.c.key.in_(skeys))
                .values(lease_expires=now + self.lease_seconds)
                .returning(threads.c.key)
            ).all()

        return {ThreadKey.parse(r.key) for r in await self.db.write(tx)}

    async def release_all(self, owner: str) -> None:
        """On clean shutdown: let another replica take over at once instead of after the expiry."""

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(threads)
                .where(threads.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )

        await self.db.write(tx)

    async def orphaned_threads(self, limit: int = 500) -> list[ThreadKey]:
        """Threads with pending messages, or a running or suspended turn, and no live lease: work to
        (re)start or resume."""
        now = time.time()
        no_live_lease = or_(threads.c.lease_owner.is_(None), threads.c.lease_expires < now)

        def tx(conn: Connection) -> Any:
            pending = conn.execute(
                select(inbox.c.thread_key)
                .outerjoin(threads, threads.c.key == inbox.c.thread_key)
                .where(inbox.c.state == "pending", or_(threads.c.key.is_(None), no_live_lease))
                .distinct()
                .limit(limit)
            )
            running = conn.execute(
                select(turns.c.thread_key)
                .join(threads, threads.c.key == turns.c.thread_key)
                .where(turns.c.state.in_(["running", "suspended"]), no_live_lease)
                .distinct()
                .limit(limit)
            )
            return {r.thread_key for r in pending} | {r.thread_key for r in running}

        found = await self.db.read(tx)
        return [ThreadKey.parse(k) for k in sorted(found)]
