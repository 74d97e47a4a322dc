"""The audit log: who stopped, reset or retried which thread, who was turned away, what admins changed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.model import ThreadKey
from bot.store.base import StoreBase
from bot.store.records import dumps_json
from bot.store.schema import audit


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    thread_key: str | None
    channel_id: str | None
    detail: dict[str, Any]


class AuditStore(StoreBase):
    async def audit(
        self,
        actor: str,
        action: str,
        *,
        thread: ThreadKey | None = None,
        channel_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        row = {
            "at": time.time(),
            "actor": actor,
            "action": action,
            "thread_key": str(thread) if thread is not None else None,
            "channel_id": channel_id or (thread.channel_id if thread is not None else None),
            "detail": dumps_json(detail or {}),
        }
        await self.db.write(lambda conn: conn.execute(audit.insert(), row))

    async def audit_log(
        self, *, since: float = 0.0, thread: ThreadKey | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest entries first."""
        stmt = select(audit).where(audit.c.at >= since)
        if thread is not None:
            stmt = stmt.where(audit.c.thread_key == str(thread))

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt.order_by(audit.c.at.desc(), audit.c.id.desc()).limit(limit)).all()

        return [
            AuditEntry(r.at, r.actor, r.action, r.thread_key, r.channel_id, json.loads(r.detail))
            for r in await self.db.read(tx)
        ]
