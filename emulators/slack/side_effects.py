"""What Slack does with a message's content besides storing it: link previews and special mentions.

- Link previews (classic unfurling, api.slack.com/docs/unfurling): Slack's crawler fetches the links
  of a new message. chat.postMessage takes `unfurl_links` ("pass true to enable unfurling of
  primarily text-based content") and `unfurl_media` ("pass false to disable unfurling of media
  content"); the docs do not say what an app's message gets when it passes neither, so both count as
  on (the strictest reading). The choice is the message's: chat.update takes no such arguments
  (docs.slack.dev/reference/methods/chat.update) and an edit keeps what the post chose (undocumented).
  Streamed messages cannot choose (slackapi/node-slack-sdk#2389 removed the arguments from
  chat.startStream to match the API) and are not unfurled here: see README LIMITS.
- Special mentions (`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>`) notify a whole channel
  or group (api.slack.com/reference/surfaces/formatting). In Markdown content (`markdown_text`,
  `markdown` blocks, streamed markdown and task cards) a bare `@here` / `@channel` / `@everyone` is
  counted too: whether Slack's Markdown turns them into mentions is not documented, so the strictest
  reading is modelled.

Each is recorded (`SlackEmulator.unfurls`, `SlackEmulator.special_mentions`) so a test can see what
a person would have been pinged about, or what Slack would have fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .models import JSON, Message

if TYPE_CHECKING:
    from .core import Core

_URL = re.compile(r"https?://[^\s<>|()\[\]\"'`]+")
_MEDIA = re.compile(r"\.(?:png|jpe?g|gif|webp|mp4|mov|webm|mp3)(?:\?|$)", re.IGNORECASE)
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>|<!(subteam)\^[^>]*>")
_BARE = re.compile(r"(?<![\w@])@(here|channel|everyone)\b")


@dataclass(frozen=True)
class Unfurl:
    """A link Slack's crawler would have fetched to preview it."""

    channel: str
    ts: str
    url: str
    media: bool


@dataclass(frozen=True)
class SpecialMention:
    """A mention that would have notified a whole channel (or user group)."""

    channel: str
    ts: str
    kind: str  # here | channel | everyone | subteam
    user: str  # the author


def message_effects(core: Core, message: Message) -> None:
    """Record the unfurls and special mentions of a message just posted or edited (its `text`,
    `markdown_text` and blocks)."""
    plain, marked = _content(message)
    _record_mentions(core, message, plain, marked)
    if message.stream is None:
        for url in dict.fromkeys(u for part in (*plain, *marked) for u in _URL.findall(part)):
            media = bool(_MEDIA.search(url))
            if message.unfurl_media if media else message.unfurl_links:
                core.unfurls.append(Unfurl(message.channel, message.ts, url.rstrip(".,;:!?"), media))


def stream_effects(core: Core, message: Message, chunks: Iterable[JSON], blocks: Iterable[JSON] = ()) -> None:
    """Special mentions in what a stream call added: markdown chunks, task cards, plan titles, blocks."""
    plain: list[str] = []
    marked: list[str] = []
    for chunk in chunks:
        kind = chunk.get("type")
        if kind == "markdown_text":
            marked.append(str(chunk.get("text") or ""))
        elif kind == "task_update":
            marked += [str(chunk.get(f) or "") for f in ("title", "details", "output")]
        elif kind == "plan_update":
            marked.append(str(chunk.get("title") or ""))
        elif kind == "blocks":
            for block in chunk.get("blocks") or []:
                _block_strings(block, plain, marked)
    for block in blocks:
        _block_strings(block, plain, marked)
    _record_mentions(core, message, plain, marked)


def _content(message: Message) -> tuple[list[str], list[str]]:
    """(mrkdwn text, Markdown text) of a message."""
    plain = [message.text] if message.markdown_text is None else []
    marked = [message.markdown_text] if message.markdown_text is not None else []
    for block in message.blocks or []:
        _block_strings(block, plain, marked)
    return plain, marked


def _block_strings(node: JSON, plain: list[str], marked: list[str]) -> None:
    """The text of a block and of every text object or rich-text element in it."""
    text = node.get("text")
    if isinstance(text, str):
        (marked if node.get("type") == "markdown" else plain).append(text)
    for value in node.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict):
                _block_strings(child, plain, marked)


def _record_mentions(core: Core, message: Message, plain: list[str], marked: list[str]) -> None:
    kinds = [m.group(1) or m.group(2) for part in (*plain, *marked) for m in _SPECIAL.finditer(part)]
    kinds += [m.group(1) for part in marked for m in _BARE.finditer(part)]
    for kind in kinds:
        core.special_mentions.append(SpecialMention(message.channel, message.ts, kind, message.user))
    if kinds:
        core.notify()
