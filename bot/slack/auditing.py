"""Who did what to which thread: every stop, reset, retry, refusal and admin change goes to the audit
table (read on the Home tab and by the operator) and to the log, in one call."""

from __future__ import annotations

import logging
from typing import Any

from bot.model import ThreadKey
from bot.store import Store

log = logging.getLogger("bot.audit")


async def audit(
    store: Store,
    actor: str,
    action: str,
    *,
    thread: ThreadKey | None = None,
    channel_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an action. A store that fails loses only the row: the log line is written first, and the
    action itself (already done) is never undone by its audit."""
    where = str(thread) if thread is not None else channel_id or "-"
    log.info("audit: %s %s %s %s", actor, action, where, detail or {})
    try:
        await store.audit(actor, action, thread=thread, channel_id=channel_id, detail=detail)
    except Exception:
        log.exception("could not write the audit row of %s %s in %s", actor, action, where)
