"""Is a message event shaped as Slack sends it? A pure check of the fields the bot reads, before it reads
them: a malformed event (a field of the wrong type, a timestamp that is not one, a file that is not an
object) is turned away with one warning naming what is wrong, instead of failing somewhere deeper
(an exception, a row stored with a broken key). Fields the bot does not read are not checked.

Shapes follow Slack's event reference (docs.slack.dev/reference/events/message, /app_mention): `ts`
and `thread_ts` are "1234567890.123456" strings, ids are strings, `files` a list of file objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
STRING_FIELDS = ("type", "subtype", "user", "channel", "text", "channel_type", "user_team", "team", "bot_id")
FILE_STRING_FIELDS = ("id", "name", "title", "mimetype", "url_private", "url_private_download", "file_access")
MAX_TEXT = 1_000_000  # far above Slack's 40,000 characters: only absurd payloads are refused for size


def problem(body: Mapping[str, Any]) -> str | None:
    """Why this `event_callback` body is not a well-formed message event, or None when it is."""
    event = body.get("event")
    if not isinstance(event, dict):
        return "`event` is not an object"
    for name in ("event_id", "team_id"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            return f"`{name}` is not a string"
    for name in STRING_FIELDS:
        if name in event and event[name] is not None and not isinstance(event[name], str):
            return f"`event.{name}` is not a string"
    for name in ("ts", "thread_ts"):
        value = event.get(name)
        if value is not None and not (isinstance(value, str) and TS.match(value)):
            return f"`event.{name}` is not a Slack timestamp"
    if len(event.get("text") or "") > MAX_TEXT:
        return "`event.text` is larger than any Slack message"
    for name in ("edited", "bot_profile"):
        if name in event and event[name] is not None and not isinstance(event[name], dict):
            return f"`event.{name}` is not an object"
    return _files_problem(event.get("files"))


def _files_problem(files: Any) -> str | None:
    if files is None:
        return None
    if not isinstance(files, list):
        return "`event.files` is not a list"
    for index, f in enumerate(files):
        if not isinstance(f, dict):
            return f"`event.files[{index}]` is not an object"
        for name in FILE_STRING_FIELDS:
            if name in f and f[name] is not None and not isinstance(f[name], str):
                return f"`event.files[{index}].{name}` is not a string"
        size = f.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            return f"`event.files[{index}].size` is not a byte count"
    return None


def routing_problem(payload: Mapping[str, Any]) -> str | None:
    """For any event (not only messages): why Bolt could not even route it, or None. Bolt reads the
    channel and the user of every event before any listener runs, expecting a string or an object
    with an `id` (`slack_bolt/request/internals.py`); anything else raised inside it."""
    event = payload.get("event")
    if not isinstance(event, dict):
        return "`event` is not an object"
    if not isinstance(event.get("type"), str):
        return "`event.type` is not a string"
    for name in ("channel", "user"):
        value = event.get(name)
        if value is not None and not isinstance(value, (str, dict)):
            return f"`event.{name}` is neither a string nor an object"
    for name in ("channel_id", "user_id", "team", "team_id"):
        value = event.get(name)
        if value is not None and not isinstance(value, str):
            return f"`event.{name}` is not a string"
    item = event.get("item")
    if item is not None and not isinstance(item, dict):
        return "`event.item` is not an object"
    return None
