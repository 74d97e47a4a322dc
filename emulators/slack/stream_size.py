"""How big a streamed message is, as Slack counts it when it answers `msg_too_long`.

Slack documents only the 12,000 characters of `markdown_text` per call. A stream also has a limit on
everything the message carries: probes against real Slack (openclaw/openclaw#143882) found it at
10,600-11,300 bytes of "titles + details x2 + body text", consistent only when counted in UTF-8
bytes, and applied only once the message carries body text (cards alone went far beyond it; so did
single appends with 40,000-character card fields, vercel/chat#886). The lowest refused total seen,
taking the strictest reading, is the limit here: a call that would take the message over it is
refused whole.
"""

from __future__ import annotations

from .models import JSON, StreamState

MAX_STREAM_BYTES = 10_600


def _bytes(value: object) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


def too_big(stream: StreamState, markdown: str | None, chunks: list[JSON]) -> bool:
    """Would the message be over the limit with this call's content applied?"""
    body = (
        stream.text
        + (markdown or "")
        + "".join(str(c["text"]) for c in chunks if c["type"] == "markdown_text")
    )
    cards = {card.id: [card.title, card.details, card.output] for card in stream.tasks.values()}
    plan = stream.plan_title or ""
    for chunk in chunks:
        if chunk["type"] == "task_update":
            card = cards.setdefault(chunk["id"], ["", "", ""])
            card[0] = chunk.get("title") or card[0]
            card[1] += chunk.get("details") or ""
            card[2] += chunk.get("output") or ""
        elif chunk["type"] == "plan_update":
            plan = chunk["title"]
    weight = (
        _bytes(body)
        + _bytes(plan)
        + sum(_bytes(t) + 2 * (_bytes(d) + _bytes(o)) for t, d, o in cards.values())
    )
    return bool(body) and weight > MAX_STREAM_BYTES
