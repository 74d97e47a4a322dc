"""History: a thread's conversation and sandbox, saved after every model response."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from bot.model import ThreadKey
from bot.store.base import StoreBase
from bot.store.database import ANSWER
from bot.store.fencing import TurnFenced
from bot.store.records import (
    dumps_json,
)
from bot.store.schema import files, threads


class HistoryStore(StoreBase):
    """A thread's conversation: the messages of its turns, its container, New session."""

    async def save_turn(
        self,
        key: ThreadKey,
        generation: int,
        turn_id: str,
        turn_messages: Iterable[dict[str, Any]],
        *,
        container_id: str | None = None,
        container_expires_at: str | None = None,
        forget_container: bool = False,
        stop_reason: str | None = None,
        owner: str,
    ) -> None:
        """Store a turn's messages so far (after every model response) and the container.

        The turn's rows are replaced as a whole: after a container reset mid-turn its earlier responses
        are gone from the conversation, and the store must say the same. `stop_reason` (of the last
        response) is where the turn goes on from if it is resumed after a restart. Raises TurnFenced
        (nothing saved) when the turn is no longer `owner`'s."""
        now = time.time()
        rows = [
            {
                "thread_key": str(key),
                "generation": generation,
                "turn_id": turn_id,
                "role": m["role"],
                "content": dumps_json(m["content"]),
                "created_at": now,
            }
            for m in turn_messages
        ]
        sql = self.sql
        p = {
            "p_key": str(key),
            "p_turn": turn_id,
            "p_generation": generation,
            "p_container": container_id,
            "p_expires_at": container_expires_at,
            "p_now": now,
            "p_owner": owner,
            "p_stop": stop_reason,
        }

        def tx(conn: Connection) -> bool:
            if conn.execute(sql.fence_save, p).first() is None:
                return False
            conn.execute(sql.drop_turn_messages, p)
            if rows:
                conn.execute(sql.add_messages, rows)
            if container_id is not None or forget_container:
                conn.execute(sql.keep_container, p)
            return True

        if not await self.db.write(tx, priority=ANSWER):
            raise TurnFenced(turn_id)

    async def update_thread(self, key: ThreadKey, *, trimmed_blocks: int) -> None:
        values = {"trimmed_blocks": trimmed_blocks, "updated_at": time.time()}

        def tx(conn: Connection) -> Any:
            conn.execute(update(threads).where(threads.c.key == str(key)).values(**values))

        await self.db.write(tx)

    async def reset_thread(self, key: ThreadKey) -> list[str]:
        """Start the thread's conversation over. Returns the Anthropic file ids to delete."""
        now = time.time()
        skey = str(key)

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(threads)
                .where(threads.c.key == skey)
                .values(
                    generation=threads.c.generation + 1,
                    container_id=None,
                    container_expires_at=None,
                    trimmed_blocks=0,
                    updated_at=now,
                )
            )
            gone = conn.execute(
                update(files)
                .where(files.c.thread_key == skey, files.c.deleted_at.is_(None))
                .values(deleted_at=now)
                .returning(files.c.anthropic_file_id)
            )
            return [r.anthropic_file_id for r in gone if r.anthropic_file_id]

        return await self.db.write(tx)
