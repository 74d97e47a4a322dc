"""The common base of the store's parts (see repository.py)."""

from __future__ import annotations

from typing import Any

from bot.model import ThreadKey
from bot.store.arrivals import Arrivals
from bot.store.commands import Commands
from bot.store.database import Database
from bot.store.statements import Statements
from bot.store.twins import Twins


class StoreBase:
    """What every part of the store shares: the database, the hot-path statements, the lease length,
    and the helpers more than one part uses. `Store` (repository.py) puts the parts together."""

    db: Database
    sql: Statements
    lease_seconds: float
    commands: Commands
    twins: Twins
    arrivals: Arrivals

    def _new_thread_params(self, key: ThreadKey, owner: str, now: float) -> dict[str, Any]:
        """Parameters of `new_thread`: the thread created already leased to `owner`."""
        return {
            "p_key": str(key),
            "p_team": key.team_id,
            "p_channel": key.channel_id,
            "p_thread_ts": key.thread_ts,
            "p_owner": owner,
            "p_now": now,
            "p_created": now,
            "p_updated": now,
            "p_expires": now + self.lease_seconds,
        }
