"""The thread's status line ("is working on it…") under the message being answered."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.model import ThreadKey
from bot.slack.errors import CallFailed, failure
from bot.slack.rate_limits import RateBudget

log = logging.getLogger(__name__)

STATUS_TEXT = "is working on it…"
STATUS_REFRESH_SECONDS = 60.0  # Slack drops a status after two minutes without a message (§5.1)


async def set_thread_status(
    client: AsyncWebClient, budget: RateBudget, key: ThreadKey, status: str, *, wait: bool
) -> bool:
    """Set (or with "" clear) the thread's status line. Without `wait`, skipped when the rate budget
    has no room now. True when Slack took it."""
    if not budget.try_take("assistant.threads.setStatus"):
        if not wait:
            return False
        await budget.take("assistant.threads.setStatus")
    try:
        await client.assistant_threads_setStatus(
            channel_id=key.channel_id, thread_ts=key.thread_ts, status=status
        )
    except CallFailed as exc:
        # A status is never worth failing for: the turn's end (which clears it) must still be recorded.
        log.info("assistant.threads.setStatus failed: %s", failure(exc))
        return False
    return True
