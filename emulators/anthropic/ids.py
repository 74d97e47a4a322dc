"""Identifiers and timestamps in the formats the real API uses.

Ids are a prefix plus 24 base58 characters, the shape seen in recorded traffic (reference §3.3 and
``anthropic_shapes.py``): ``msg_01…``, ``srvtoolu_01…``, ``toolu_01…`` carry ``01`` then 22 random
characters; ``container_011C…``, ``file_011C…`` and ``req_011C…`` carry ``011C`` then 20.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Not for secrets: ids only need to be unique, and this is several times faster than `secrets`.
_rng = random.Random(os.urandom(16))


def _tail(n: int) -> str:
    return "".join(_rng.choices(_BASE58, k=n))


def message_id() -> str:
    return "msg_01" + _tail(22)


def server_tool_use_id() -> str:
    return "srvtoolu_01" + _tail(22)


def tool_use_id() -> str:
    return "toolu_01" + _tail(22)


def tail(n: int) -> str:
    """Random base58 characters, for ids of other objects (skills, skill versions)."""
    return _tail(n)


def container_id() -> str:
    return "container_011C" + _tail(20)


def file_id() -> str:
    return "file_011C" + _tail(20)


def request_id() -> str:
    return "req_011C" + _tail(20)


def page_cursor(payload: str) -> str:
    """Opaque list cursors are prefixed ``page_`` (SDK ``files.list`` docstring)."""
    return "page_" + payload


def rfc3339(ts: float) -> str:
    """Format a UNIX time exactly as pydantic serialises a UTC datetime.

    Bodies must survive ``model_validate`` → ``model_dump(mode="json")`` unchanged (the response
    validation's round-trip check), so microseconds are printed only when non-zero and UTC is ``Z``.
    """
    dt = datetime.fromtimestamp(ts, tz=UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
