"""Slack's rate limits as this bot paces them: the documented rates and bursts, and what each write
asks of them (see paced_client.py for the buckets and the queue).

Slack limits each Web API method per app per workspace by tier (slack-platform.md §7): Tier 2 = 20+,
Tier 3 = 50+, Tier 4 = 100+ per minute, with bursts; `chat.postMessage` is special, about one message
per second per channel with short bursts, and a workspace-wide limit. A tier's burst is a minute's
worth of calls (what a strict per-minute count allows too); a channel's post burst is 3 (Slack
guarantees none). With `enabled` off (SLACK_RATE_LIMITS=off) nothing is paced before Slack says 429;
a 429 still pauses its method (or channel) for exactly its `Retry-After`.

Limits are per process: with several replicas each keeps its own buckets (README, several replicas).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from bot.slack.paced_client import Key, Option, Pacer, Priority

PER_MINUTE: dict[str, int] = {
    "chat.startStream": 20,
    "chat.stopStream": 20,
    "chat.appendStream": 100,
    "chat.update": 50,
    "chat.postEphemeral": 100,
    "chat.delete": 50,
    # "Special" and unpublished; treated like Tier 3.
    "assistant.threads.setStatus": 50,
    "reactions.add": 50,
    "reactions.remove": 20,
    "files.getUploadURLExternal": 100,
    "files.completeUploadExternal": 100,
    "files.info": 100,
    "conversations.replies": 50,
    "conversations.info": 50,
    "users.info": 100,
}
POST = "chat.postMessage"
POST_PER_SECOND = 1.0
POST_BURST = 3.0
POST_WORKSPACE_PER_MINUTE = 300
TIER_BURST_MINUTES = 1.0
# Pacing off: buckets so large they never hold a call back (429s still pause them).
UNPACED = (1e9, 1e9)

STATUS = "assistant.threads.setStatus"
REACTION = "reactions.add"
START = "chat.startStream"
STOP = "chat.stopStream"
EDIT = "chat.update"


def limits_of(per_minute: dict[str, int]) -> Callable[[Key], tuple[float, float] | None]:
    def documented(key: Key) -> tuple[float, float] | None:
        """(tokens per second, burst) of a limit, None when the method is not limited here."""
        if isinstance(key, tuple):
            return (POST_PER_SECOND, POST_BURST) if key[0] == POST else None
        count = POST_WORKSPACE_PER_MINUTE if key == POST else per_minute.get(key)
        if count is None:
            return None
        return count / 60.0, float(int(count * TIER_BURST_MINUTES))

    return documented


def _post(channel: str) -> tuple[Key, ...]:
    return ((POST, channel), POST)


class RateBudget:
    def __init__(self, per_minute: dict[str, int] | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        documented = limits_of(PER_MINUTE if per_minute is None else per_minute)
        self.pacer = Pacer(documented if enabled else _unpaced(documented))

    # --- one method -------------------------------------------------------------------------------

    def try_take(self, method: str) -> bool:
        """A call of `method` now, if there is room and nobody waits for it (optional work)."""
        return self.pacer.try_take(Option((method,)))

    def try_take_live(self, method: str) -> bool:
        """A live update's call now, only while half the method's burst is left: the rest is for the
        final answers."""
        if self.enabled:
            bucket = self.pacer.bucket(method)
            if bucket is not None and bucket.available(self.pacer.clock()) < bucket.burst / 2:
                return False
        return self.try_take(method)

    async def take(self, method: str, priority: Priority = Priority.FINAL) -> None:
        """Wait for room for one call of `method`."""
        await self.pacer.take([Option((method,))], priority)

    # --- posts ------------------------------------------------------------------------------------

    def try_take_post(self, channel: str, *, spare: bool = False) -> bool:
        """`chat.postMessage` now if the channel has room. `spare`: only when its burst is whole
        (a post nobody waits for, like a Stop button, must not use a busy channel's posts)."""
        if spare and self.enabled:
            bucket = self.pacer.bucket((POST, channel))
            if bucket is not None and bucket.available(self.pacer.clock()) < bucket.burst:
                return False
        return self.pacer.try_take(Option(_post(channel)))

    async def take_post(self, channel: str, priority: Priority = Priority.FINAL) -> None:
        await self.pacer.take([Option(_post(channel))], priority)

    # --- streams and answers ----------------------------------------------------------------------

    def try_open_stream(self) -> bool:
        """A stream now (its stop promised, so that what opens can close), if there is room."""
        return self.pacer.try_take(Option((START,), reserve=(STOP,)))

    async def take_answer(self, channel: str) -> str:
        """Wait for a way to show a final answer: a post or a stream, whichever has room first."""
        index = await self.pacer.take(
            [Option(_post(channel)), Option((START,), reserve=(STOP,))], Priority.FINAL
        )
        return ("post", "stream")[index]

    async def take_edit(self, channel: str) -> str:
        """Wait for a way to finish an answer already posted: an edit, or else a new post."""
        index = await self.pacer.take([Option((EDIT,)), Option(_post(channel))], Priority.FINAL)
        return ("edit", "post")[index]

    def stop_now(self) -> None:
        """The promised stop of a stream is made now."""
        self.pacer.use_reserved(STOP)

    def stop_not_needed(self) -> None:
        """A stream ended without its stop (Slack ended it)."""
        self.pacer.release_reserved(STOP)

    # --- signs of life ----------------------------------------------------------------------------

    async def take_sign_of_life(self) -> str:
        """Wait, first in line, for a status or else a reaction: the first that has room."""
        index = await self.pacer.take([Option((STATUS,)), Option((REACTION,))], Priority.LIFE)
        return (STATUS, REACTION)[index]

    def give_back(self, method: str) -> None:
        """A call taken for and not made after all."""
        self.pacer.give_back(Option((method,)))

    # --- what Slack says --------------------------------------------------------------------------

    def rate_limited(self, method: str, channel: str | None, retry_after: float) -> None:
        """A 429: the method (for a post, the channel) waits exactly `retry_after`, then slower."""
        self.pacer.limited((POST, channel) if method == POST and channel else method, retry_after)

    async def wait_for_retry(self, method: str, channel: str | None) -> None:
        """A call Slack refused with 429 is made again when its pause is over, before anything new."""
        if method == POST and channel:
            await self.take_post(channel, Priority.LIFE)
        else:
            await self.take(method, Priority.LIFE)
        if not self.enabled:
            # Unpaced, every call refused meanwhile would go again at the same instant: spread them
            # over a second, as slack_sdk's own retry handler does (Retry-After + random()).
            await asyncio.sleep(random.random())


def _unpaced(
    documented: Callable[[Key], tuple[float, float] | None],
) -> Callable[[Key], tuple[float, float] | None]:
    return lambda key: UNPACED if documented(key) is not None else None
