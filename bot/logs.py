"""Logging: plain text or one JSON object per line, with the thread and turn of the current turn.

The thread key and turn id live in context variables set by the engine, so every line logged while
a turn runs (in any module) carries them. Secrets never reach the log: tokens and keys are not
logged anywhere, and a filter masks anything shaped like one as a last line of defence.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from urllib.parse import urlsplit

thread_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("thread", default=None)
turn_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("turn", default=None)

SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sk-ant-[A-Za-z0-9_-]{6,})")


# Secrets without a recognisable shape (the signing secret, a database password), masked by value.
_KNOWN: list[str] = []


def register_secrets(*values: str | None) -> None:
    """Mask these exact values wherever they would appear in the log."""
    for value in values:
        if value and len(value) >= 6 and value not in _KNOWN:
            _KNOWN.append(value)
    _KNOWN.sort(key=len, reverse=True)


def mask(text: str) -> str:
    text = SECRET.sub(lambda m: m.group(0)[:5] + "…[redacted]", text)
    for value in _KNOWN:
        if value in text:
            text = text.replace(value, "…[redacted]")
    return text


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__["thread_key"] = thread_var.get()
        record.__dict__["turn_id"] = turn_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for field, name in (("thread_key", "thread"), ("turn_id", "turn")):
            value = getattr(record, field, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={value}"
            for name, value in (
                ("thread", getattr(record, "thread_key", None)),
                ("turn", getattr(record, "turn_id", None)),
            )
            if value
        )
        return mask(f"{line} [{context}]" if context else line)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDKs are chatty at INFO/DEBUG and may print request details; keep them quiet.
    for noisy in ("slack_bolt", "slack_sdk", "anthropic", "httpx", "httpx2", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def redact_url(value: str) -> str:
    """`value` with the password of any URL in it replaced by `***` (for messages and logs)."""
    return _URL_PASSWORD.sub(r"\1***\2", value)


def url_password(url: str) -> str | None:
    """The password in a URL (to mask it in the log), if there is one."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]*(@)", re.IGNORECASE)
