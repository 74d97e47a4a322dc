"""Files: what each thread has at Anthropic, so that it is attached again, and deleted, as it must be."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.model import ThreadKey
from bot.store.base import StoreBase
from bot.store.records import (
    StoredFile,
    stored_file,
)
from bot.store.schema import files


class FileStore(StoreBase):
    """The thread's Anthropic files: attachments taken in, files the sandbox made, deletions."""

    async def thread_files(self, key: ThreadKey, origin: str | None = "upload") -> list[StoredFile]:
        stmt = select(files).where(files.c.thread_key == str(key), files.c.deleted_at.is_(None))
        if origin is not None:
            stmt = stmt.where(files.c.origin == origin)

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt.order_by(files.c.id)).all()

        rows = await self.db.read(tx)
        return [stored_file(r) for r in rows]

    async def record_file(self, key: ThreadKey, stored: StoredFile) -> None:
        """Record a file of the thread. A produced file's row (written when it appeared, see
        `record_outputs`) takes its name and size. A Slack file attached again after its earlier
        upload was deleted gets a new row; the old one stays, renamed, so that `deleted_files`
        still knows the deleted id (the history may name it)."""
        values = {
            "anthropic_file_id": stored.anthropic_file_id,
            "name": stored.name,
            "mimetype": stored.mimetype,
            "size": stored.size,
            "sha256": stored.sha256,
            "created_at": stored.created_at,
        }
        same = (
            files.c.thread_key == str(key),
            files.c.origin == stored.origin,
            files.c.source_id == stored.source_id,
        )

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(files)
                .where(*same, files.c.deleted_at.is_not(None))
                .values(
                    source_id=files.c.source_id + "#deleted:" + func.coalesce(files.c.anthropic_file_id, "")
                )
            )
            insert = self.db.insert(files).values(
                thread_key=str(key),
                origin=stored.origin,
                source_id=stored.source_id,
                slack_file_id=stored.slack_file_id,
                **values,
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["thread_key", "origin", "source_id"], set_=values
                )
            )

        await self.db.write(tx)

    async def record_outputs(self, key: ThreadKey, file_ids: Sequence[str]) -> None:
        """Files the sandbox made, recorded the moment their ids appear, whatever becomes of the
        turn (stopped, failed, reset): so New session and FILE_RETENTION_DAYS delete them too.
        Their names come later, when a finished turn downloads them (`record_file`)."""
        if not file_ids:
            return
        now = time.time()
        rows = [
            {
                "thread_key": str(key),
                "origin": "output",
                "source_id": file_id,
                "anthropic_file_id": file_id,
                "name": "",
                "mimetype": "",
                "size": 0,
                "sha256": "",
                "created_at": now,
            }
            for file_id in dict.fromkeys(file_ids)
        ]

        def tx(conn: Connection) -> Any:
            conn.execute(
                self.db.insert(files).on_conflict_do_nothing(
                    index_elements=["thread_key", "origin", "source_id"]
                ),
                rows,
            )

        await self.db.write(tx)

    async def deleted_files(self, key: ThreadKey) -> dict[str, str]:
        """The thread's deleted Anthropic file ids and their names: what its history must no longer
        send (see `bot.claude.file_refs`)."""
        stmt = select(files.c.anthropic_file_id, files.c.name).where(
            files.c.thread_key == str(key),
            files.c.deleted_at.is_not(None),
            files.c.anthropic_file_id.is_not(None),
        )

        def tx(conn: Connection) -> Any:
            return conn.execute(stmt).all()

        return {r.anthropic_file_id: r.name for r in await self.db.read(tx)}

    async def expired_files(self, older_than: float, limit: int = 200) -> list[str]:
        """Anthropic ids of files kept longer than FILE_RETENTION_DAYS and not deleted yet."""

        def tx(conn: Connection) -> Any:
            rows = conn.execute(
                select(files.c.anthropic_file_id)
                .where(
                    files.c.deleted_at.is_(None),
                    files.c.created_at < older_than,
                    files.c.anthropic_file_id.is_not(None),
                )
                .limit(limit)
            )
            return [r.anthropic_file_id for r in rows]

        return await self.db.read(tx)

    async def mark_files_deleted(self, anthropic_file_ids: Sequence[str]) -> None:
        if not anthropic_file_ids:
            return

        def tx(conn: Connection) -> Any:
            conn.execute(
                update(files)
                .where(files.c.anthropic_file_id.in_(list(anthropic_file_ids)), files.c.deleted_at.is_(None))
                .values(deleted_at=time.time())
            )

        await self.db.write(tx)
