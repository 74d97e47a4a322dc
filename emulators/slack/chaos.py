"""A seeded chaos plan for the Slack emulator: many faults at once, reproducibly (the soak suite).

What it injects, each with the shape Slack gives it (README "Chaos plans" cites the sources):

- duplicate deliveries: a fraction of first deliveries of an event come again as a redelivery (new
  envelope id, same `event_id`, `retry_attempt` 1, `retry_reason` "timeout"), after a random delay, so
  a twin may arrive after later messages of its thread (out of order);
- the two events of a mention arriving in either order, one of them without the files
  (`mention_twins`, chosen per message by the driver through `twins()`);
- Socket Mode connections closed by Slack: a `disconnect` frame (`refresh_requested` or `warning`) and
  then the close, or an abrupt close without one; envelopes left unacknowledged on a closed connection
  are redelivered after the ack deadline, as any unacknowledged envelope is;
- write calls answered HTTP 429 `{"ok": false, "error": "ratelimited"}` with `Retry-After`;
- a few write calls answered HTTP 500 `internal_error` or 503 `service_unavailable`, the call not
  performed (the docs do not say whether a 5xx write may have taken effect; an emulator that
  performed it would make every retried post a double no client could avoid).

Every fault is counted in `counts` by kind, for the suite's figures.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .events import MENTION_TWINS, MentionTwins
from .models import Envelope
from .rate_limits import Injection

if TYPE_CHECKING:
    from .server import SlackEmulator

# The Web API methods that change what people see (the ones the plan may fail).
WRITE_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "chat.postEphemeral",
        "reactions.add",
        "reactions.remove",
        "assistant.threads.setStatus",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }
)
SERVER_ERRORS: tuple[tuple[int, str], ...] = ((500, "internal_error"), (503, "service_unavailable"))


@dataclass(frozen=True)
class SlackChaosPlan:
    seed: int = 0
    duplicate_rate: float = 0.2
    duplicate_max_delay_s: float = 1.0
    write_429_rate: float = 0.1
    retry_after_s: int = 1
    write_5xx_rate: float = 0.01
    # Share of Slack-side closes that come without a `disconnect` frame first.
    abrupt_close_rate: float = 0.3


class SlackChaos:
    """Installs a plan's hooks on a running emulator; `disconnect_one()` closes a connection."""

    def __init__(self, slack: SlackEmulator, plan: SlackChaosPlan) -> None:
        self.slack = slack
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.counts: Counter[str] = Counter()
        self.enabled = True

    def install(self) -> None:
        core = self.slack.core
        core.limits.chaos = self._web_fault
        core.events.on_first_delivery = self._maybe_duplicate

    def uninstall(self) -> None:
        core = self.slack.core
        core.limits.chaos = None
        core.events.on_first_delivery = None

    def twins(self) -> MentionTwins:
        """How the events of the next mention arrive (any of Slack's observed orders and shapes)."""
        if not self.enabled:
            return "app_mention_first"
        choice = cast(MentionTwins, self.rng.choice(MENTION_TWINS))
        self.counts[f"mention_twins_{choice}"] += 1
        return choice

    def _web_fault(self, method: str) -> Injection | None:
        if not self.enabled or method not in WRITE_METHODS:
            return None
        roll = self.rng.random()
        if roll < self.plan.write_429_rate:
            self.counts["slack_429"] += 1
            return Injection(retry_after=self.plan.retry_after_s)
        if roll < self.plan.write_429_rate + self.plan.write_5xx_rate:
            status, error = self.rng.choice(SERVER_ERRORS)
            self.counts[f"slack_{status}"] += 1
            return Injection(error=error, status=status)
        return None

    def _maybe_duplicate(self, envelope: Envelope) -> None:
        if not self.enabled or self.rng.random() >= self.plan.duplicate_rate:
            return
        delay = self.rng.uniform(0.0, self.plan.duplicate_max_delay_s)
        self.counts["duplicate_delivery"] += 1
        core = self.slack.core

        async def later() -> None:
            await asyncio.sleep(delay)
            await core.events.redeliver(
                envelope, "timeout" if envelope.transport == "socket" else "http_timeout"
            )

        core.spawn(later())

    async def disconnect_one(self) -> str | None:
        """Close one open Socket Mode connection from Slack's side; the kind of close, or None."""
        hub = self.slack.core.socket
        open_ids = [record.id for record in hub.open_connections]
        if not open_ids:
            return None
        target = self.rng.choice(open_ids)
        if self.rng.random() < self.plan.abrupt_close_rate:
            await hub.drop(target)
            kind = "socket_closed_abruptly"
        else:
            reason = self.rng.choice(("refresh_requested", "warning"))
            await hub.disconnect(reason, target)
            kind = f"socket_disconnect_{reason}"
        self.counts[kind] += 1
        return kind
