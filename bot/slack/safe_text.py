"""What model-controlled text may not do once it is in Slack, as pure functions.

Claude's answer, its task cards and the names of the files it makes come from a model that reads
whatever people attach: a poisoned file can make it write anything. So before such text reaches
Slack it loses what would act on people rather than inform them:

- Link previews. Slack fetches the links of a new message to preview them (classic unfurling,
  api.slack.com/docs/unfurling), so a URL Claude was tricked into writing, carrying data from an
  attachment, would be requested by Slack's crawler as soon as it is posted: every chat.postMessage
  passes `unfurl_links=False, unfurl_media=False`. chat.update and the chat.*Stream methods take no
  such arguments (docs.slack.dev/reference/methods/chat.update; slackapi/node-slack-sdk#2389 removed
  them from chat.startStream to match the API).

- Special mentions (`<!here>`, `<!channel>`, `<!everyone>`, user groups) notify a whole channel
  (api.slack.com/reference/surfaces/formatting, "Special mentions"). They are shown as text with a
  full-width at sign instead. Whether a `markdown` block also turns a bare `@here` into a mention is
  not documented, so the bare forms are neutralised too.
- File names shown to people lose bidirectional controls and zero-width characters, which can make
  `invoice[U+202E]fdp.exe` read as `invoiceexe.pdf` (Unicode TR#36 §2.2 "Bidirectional Text Spoofing"), and
  are cut to 255 UTF-8 bytes, the longest name Slack's upload takes (see the Slack emulator README).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# A full-width "@": reads as an at sign, and no Slack client or parser takes it for a mention.
INERT_AT = "\uff20"
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^[^>|]*(?:\|@?([^>]*))?>")
_BARE = re.compile(r"(?<![\w@])@(here|channel|everyone)\b")
_WORDS = ("here", "channel", "everyone")
_OPENERS = ("!here", "!channel", "!everyone", "!subteam^")
# How much of an unfinished `<!…` is held back waiting for its `>` (a label can be a few words).
_MAX_HELD = 120

MAX_FILE_NAME_BYTES = 255


def neutralize_mentions(text: str) -> str:
    """`text` with every channel-wide mention turned into plain text."""
    text = _SPECIAL.sub(lambda m: INERT_AT + m.group(1), text)
    text = _GROUP.sub(lambda m: INERT_AT + (m.group(1) or "group"), text)
    return _BARE.sub(lambda m: INERT_AT + m.group(1), text)


def split_unfinished(text: str) -> tuple[str, str]:
    """(what can be sent now, a tail that may be the start of a mention the next delta completes).

    Answers stream in pieces, and `<!he` + `re>` must not slip through as two harmless halves."""
    cut = len(text)
    for start in (text.rfind("<"), text.rfind("@")):
        if start >= 0 and start < cut and _may_grow_into_mention(text[start:]):
            cut = start
    return text[:cut], text[cut:]


def _may_grow_into_mention(tail: str) -> bool:
    body = tail[1:]
    if tail.startswith("<"):
        if ">" in body or len(body) > _MAX_HELD:
            return False
        return any(o.startswith(body) or body.startswith(o) for o in _OPENERS)
    # "@her" may become "@here"; "@here" itself may still become "@hereafter".
    return any(word.startswith(body) for word in _WORDS)


def display_name(name: str) -> str:
    """A file name as people may be shown it: no invisible or direction-changing characters."""
    # Unicode category Cf holds every bidirectional control (U+202A-202E, U+2066-2069, U+200E/F,
    # U+061C) and the zero-width characters (U+200B-200D, U+2060, U+FEFF); Cc the control characters.
    cleaned = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    return cleaned.strip() or "file"


def slack_file_name(name: str, taken: Iterable[str] = ()) -> str:
    """`display_name`, at most 255 UTF-8 bytes (the extension kept, never a character cut in half),
    and not one of `taken`: "chart (2).png" style."""
    cleaned = display_name(name)
    used = {t.lower() for t in taken}
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = cleaned, ""
    n = 1
    while True:
        suffix = (f" ({n})" if n > 1 else "") + ("." + ext if ext else "")
        candidate = cut_to_bytes(stem, MAX_FILE_NAME_BYTES - len(suffix.encode())) + suffix
        if candidate.lower() not in used:
            return candidate
        n += 1


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of `text` that is at most `limit` bytes in UTF-8."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")
