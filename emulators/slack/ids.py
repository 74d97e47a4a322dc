"""Identifier and timestamp generation.

Slack message timestamps double as message IDs, so they must be unique per channel; the emulator makes
them strictly increasing across the whole workspace (even for two posts in the same microsecond), which
also makes "sort by ts" equal "sort by posting order" everywhere.
"""

from __future__ import annotations

import random
import string
import time
import uuid

_ID_ALPHABET = string.digits + "ABCDEFGHJKLMNPQRSTUVWXYZ"


def format_ts(micros: int) -> str:
    """`1732200000123456` -> `"1732200000.123456"` (Slack's `<epoch seconds>.<6 digits>`)."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_to_micros(ts: str) -> int:
    """Inverse of `format_ts`; raises ValueError on anything that is not a Slack ts."""
    seconds, _, frac = ts.partition(".")
    if not seconds.isdigit() or (frac and not frac.isdigit()) or len(frac) > 6:
        raise ValueError(f"not a Slack ts: {ts!r}")
    return int(seconds) * 1_000_000 + int(frac.ljust(6, "0") or "0")


def is_ts(value: str) -> bool:
    try:
        ts_to_micros(value)
    except ValueError:
        return False
    return True


class IdFactory:
    """Mints Slack-shaped IDs (`C…`, `F…`, `Ev…`) and message timestamps for one emulator instance."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._issued: set[str] = set()
        self._last_micros = 0

    def next_ts(self) -> str:
        now = time.time_ns() // 1000
        self._last_micros = max(now, self._last_micros + 1)
        return format_ts(self._last_micros)

    def slack_id(self, prefix: str, length: int = 8) -> str:
        """`prefix` + `length` chars of Slack's upper-case alphabet, unique within this emulator."""
        while True:
            candidate = prefix + "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def reserve(self, *ids: str) -> None:
        """Mark fixed IDs (from constants) as taken so generated ones never collide with them."""
        self._issued.update(ids)

    def event_id(self) -> str:
        return self.slack_id("Ev", 10)

    def block_id(self) -> str:
        return "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(5))

    def secret(self, length: int = 24) -> str:
        return "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(length))

    def hex(self, length: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(length))

    def digits(self, length: int) -> str:
        return str(self._rng.randint(1, 9)) + "".join(
            self._rng.choice(string.digits) for _ in range(length - 1)
        )

    def trigger_id(self) -> str:
        return f"{self.digits(13)}.{self.digits(13)}.{self.hex(32)}"

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())
