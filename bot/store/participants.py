"""Who takes part in a thread: whose messages the bot took in there, and who started it.

What the New session button is checked against (only the thread's starter, its participants or an
admin may reset it), and how a message from someone turned away is told apart from chatter in a
thread the bot has nothing to do with. Read from the inbox and the turns: inbox rows are pruned after
`PRUNE_AFTER_DAYS`, turns are kept, so a thread's people outlive its messages' rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.engine import Connection

from bot.model import ThreadKey
from bot.store.base import StoreBase
from bot.store.schema import inbox, threads, turns


@dataclass(frozen=True)
class ThreadPeople:
    starter: str | None  # the author of the first message the bot took in (None: no conversation)
    participants: frozenset[str]


class ParticipantStore(StoreBase):
    async def thread_people(self, key: ThreadKey) -> ThreadPeople:
        skey = str(key)

        def tx(conn: Connection) -> tuple[list[Any], list[Any]]:
            messages = conn.execute(
                select(inbox.c.ts, inbox.c.user_id).where(inbox.c.thread_key == skey)
            ).all()
            started = conn.execute(
                select(turns.c.started_at, turns.c.user_id).where(
                    turns.c.thread_key == skey, turns.c.user_id != ""
                )
            ).all()
            return list(messages), list(started)

        messages, started = await self.db.read(tx)
        people = frozenset({str(r.user_id) for r in messages} | {str(r.user_id) for r in started})
        if messages:
            starter: str | None = str(min(messages, key=lambda r: float(r.ts)).user_id)
        elif started:
            starter = str(min(started, key=lambda r: float(r.started_at)).user_id)
        else:
            starter = None
        return ThreadPeople(starter, people)

    async def takes_part(self, key: ThreadKey) -> bool:
        """Whether the bot has a conversation in the thread (or messages waiting for one): the same
        test the inbox applies to a plain reply before storing it."""
        skey = str(key)

        def tx(conn: Connection) -> Any:
            return conn.scalar(
                select(
                    or_(
                        exists().where(threads.c.key == skey),
                        exists().where(inbox.c.thread_key == skey),
                    )
                )
            )

        return bool(await self.db.read(tx))
