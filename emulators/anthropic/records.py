"""What the emulator remembers about each ``/v1/messages`` request (``emu.requests``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    request_id: str
    path: str
    headers: dict[str, str]
    received_at: float
    """UNIX time the request arrived."""
    body: dict[str, Any] | None = None
    stream: bool = False
    first_byte_at: float | None = None
    """UNIX time the first response byte was sent (headers + message_start for streams)."""
    first_token_at: float | None = None
    """UNIX time the first content delta was sent (streams) — the emulator's time to first token."""
    done_at: float | None = None
    container_id: str | None = None
    status: int | None = None
    response: dict[str, Any] | None = None
    """The final message (what a client accumulates, for streams)."""
    error: dict[str, Any] | None = None
    """The error body, for a failed request (HTTP error or mid-stream ``event: error``)."""
    continuation: bool = False
    """Whether this request resumed a paused generation instead of calling the model."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """SSE events sent (kept only with ``emu.record_events = True``)."""

    @property
    def duration(self) -> float | None:
        return None if self.done_at is None else self.done_at - self.received_at

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.received_at

    @property
    def time_to_first_byte(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.received_at
