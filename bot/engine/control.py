"""How a running turn is stopped: by a person (Stop), by the lease heartbeat (another replica took its
thread over), or by a shutdown (suspended, to go on after the restart)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

RESTART_NOTICE = "The bot is restarting; I'll go on with this as soon as it's back."


def continues(stop_reason: str | None) -> bool:
    """Whether the conversation sends another request after a response that stopped so (reference
    §3.4): the point where a shutting-down turn suspends, everything before it saved."""
    return stop_reason in ("pause_turn", "tool_use")


class TurnSuspended(Exception):
    """Raised after a save when the bot is shutting down: the turn stops at this response's end."""


@dataclass
class TurnControl:
    """Shared between a running turn and whoever may stop it (a button, Slack's own stop, a reset, the
    lease heartbeat)."""

    task: asyncio.Task[Any] | None = None
    stopped_by: str | None = None
    turn_id: str | None = None
    closing: bool = False  # the turn is posting its end: too late to stop, nothing left to cancel
    # The thread was taken over by another replica (see bot/store/fencing.py): stop, post nothing more.
    fenced: bool = False
    # Shutdown: stop at the end of the current model response (or when cancelled) and suspend, to be
    # resumed after the restart.
    suspending: bool = False
    # The turn's state in the store is settled for this process (finished, or suspended): what it posts
    # after that (the Retry notice, the restart notice) is not its answer, so it is not marked posted.
    settled: bool = False
    # When (event loop clock, taken before asking) the store last confirmed this process's lease on the
    # thread: the lease is ours for LEASE_SECONDS from then, whatever happened to this process since.
    lease_confirmed_at: float = 0.0
    _cancelled: bool = False

    def lease_in_doubt(self, lease_seconds: float, now: float) -> bool:
        """The heartbeat renews every third of a lease: two thirds without a renewal means this process
        stalled (or lost the database), and another replica may take the thread once the lease is out."""
        return now - self.lease_confirmed_at > lease_seconds * 2 / 3

    def stop(self, user_id: str) -> bool:
        if self.closing or self.task is None or self.task.done():
            return False
        if self.stopped_by is None:
            self.stopped_by = user_id
            self._cancel()
        return True

    def suspend(self) -> None:
        self.suspending = True

    def fence(self) -> None:
        if not self.fenced:
            self.fenced = True
            if not self.closing:
                self._cancel()

    def _cancel(self) -> None:
        # Cancelled once: a second reason (another press, the fence) must not leave a cancellation
        # pending after the turn has handled the first (it would interrupt the turn's end).
        if not self._cancelled and self.task is not None and not self.task.done():
            self._cancelled = True
            self.task.cancel()


def uncancel() -> None:
    """The current task's cancellation was ours (a stop, the fence) and is handled where this is called."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
