"""Per-channel settings an admin changed (a channel's budgets; its assistant later): one JSON row each."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.store.base import StoreBase
from bot.store.records import dumps_json
from bot.store.schema import channel_settings


class ChannelSettingsStore(StoreBase):
    async def channel_settings(self, channel_id: str) -> dict[str, Any]:
        def tx(conn: Connection) -> Any:
            return conn.scalar(
                select(channel_settings.c["values"]).where(channel_settings.c.channel_id == channel_id)
            )

        stored = await self.db.read(tx)
        return dict(json.loads(stored)) if stored else {}

    async def all_channel_settings(self) -> dict[str, dict[str, Any]]:
        def tx(conn: Connection) -> Any:
            return conn.execute(select(channel_settings.c.channel_id, channel_settings.c["values"])).all()

        return {r[0]: dict(json.loads(r[1])) for r in await self.db.read(tx)}

    async def update_channel_settings(
        self, channel_id: str, changes: dict[str, Any], *, by: str
    ) -> dict[str, Any]:
        """Merge `changes` into the channel's settings (a None value removes that setting); returns the
        settings as they are now. One transaction: two admins changing different settings both win."""
        now = time.time()

        def tx(conn: Connection) -> dict[str, Any]:
            stored = conn.scalar(
                select(channel_settings.c["values"])
                .where(channel_settings.c.channel_id == channel_id)
                .with_for_update()
            )
            values = dict(json.loads(stored)) if stored else {}
            for name, value in changes.items():
                if value is None:
                    values.pop(name, None)
                else:
                    values[name] = value
            row = {
                "channel_id": channel_id,
                "values": dumps_json(values),
                "updated_by": by,
                "updated_at": now,
            }
            conn.execute(
                self.db.insert(channel_settings)
                .values(**row)
                .on_conflict_do_update(
                    index_elements=["channel_id"],
                    set_={"values": row["values"], "updated_by": by, "updated_at": now},
                )
            )
            return values

        return await self.db.write(tx)
