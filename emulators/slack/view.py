"""What a person sees in a thread or a channel: the assertion surface of end-to-end tests.

`text` is what a reader reads, not the API's fallback: for messages with blocks the text of their
markdown/section/header/context/rich_text blocks, for `markdown_text` posts that markdown, for streamed
messages the concatenated markdown chunks (task cards are separate, in `tasks`). Ephemeral messages
appear only in the view of the user they were sent to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .blocks import blocks_text
from .models import JSON, Message, TaskCard

if TYPE_CHECKING:
    from .core import Core


@dataclass(frozen=True)
class ViewFile:
    id: str
    name: str
    title: str
    mimetype: str
    size: int
    is_image: bool
    path: Path

    @property
    def data(self) -> bytes:
        """The file's bytes, read from disk on access (do not call on 500 MB files)."""
        return self.path.read_bytes()


@dataclass(frozen=True)
class ViewMessage:
    ts: str
    user: str
    is_bot: bool
    text: str
    blocks: list[JSON] = field(default_factory=list)
    # None (not streamed) | "streaming" | "completed" | "expired" | "stopped_by_user"
    stream_state: str | None = None
    tasks: dict[str, TaskCard] = field(default_factory=dict)
    plan_title: str | None = None
    files: list[ViewFile] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    ephemeral_to: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    edited: bool = False
    bot_id: str | None = None

    def to_json(self) -> JSON:
        out = asdict(self)
        out["files"] = [
            {k: v for k, v in asdict(f).items() if k != "path"} | {"path": str(f.path)} for f in self.files
        ]
        return out


def render(core: Core, message: Message) -> ViewMessage:
    stream = message.stream
    blocks = list(message.blocks or [])
    if stream is not None:
        text = stream.text
        extra = blocks_text(stream.blocks)
        text = f"{text}\n{extra}" if text and extra else text or extra
        blocks = list(stream.blocks)
    elif message.markdown_text is not None:
        text = message.markdown_text
    elif message.blocks:
        text = blocks_text(message.blocks) or message.text
    else:
        text = message.text
    if message.attachments:
        parts = [str(a.get("text") or a.get("fallback") or "") for a in message.attachments]
        text = "\n".join(p for p in [text, *parts] if p)
    if message.tombstone:
        text = "This message was deleted."
    files = [
        ViewFile(r.id, r.name, r.title, r.mimetype, r.size, r.is_image, r.path)
        for fid in message.file_ids
        if (r := core.ws.files.get(fid)) is not None and not r.deleted
    ]
    return ViewMessage(
        ts=message.ts,
        user=message.user,
        is_bot=message.is_bot,
        text=text,
        blocks=blocks,
        stream_state=stream.phase if stream is not None else None,
        tasks={k: TaskCard(**asdict(v)) for k, v in stream.tasks.items()} if stream else {},
        plan_title=stream.plan_title if stream else None,
        files=files,
        reactions={k: list(v) for k, v in message.reactions.items()},
        ephemeral_to=message.ephemeral_to,
        thread_ts=message.thread_ts,
        subtype=message.subtype,
        edited=message.edited is not None,
        bot_id=message.bot_id,
    )


def thread_view(core: Core, channel_id: str, thread_ts: str, viewer: str | None) -> list[ViewMessage]:
    channel = core.ws.channels[channel_id]
    root = core.ws.root_of(channel_id, thread_ts)
    root_ts = root.ts if root is not None else thread_ts
    messages: list[Any] = core.ws.thread(channel_id, root_ts)
    messages += [
        m
        for m in channel.ephemerals
        if m.thread_ts == root_ts and viewer and m.ephemeral_to == viewer and not m.ephemeral_hidden
    ]
    return [render(core, m) for m in sorted(messages, key=lambda m: m.ts)]


def channel_view(core: Core, channel_id: str, viewer: str | None) -> list[ViewMessage]:
    channel = core.ws.channels[channel_id]
    messages: list[Any] = core.ws.top_level(channel_id)
    messages += [m for m in channel.ephemerals if m.thread_ts is None and viewer and m.ephemeral_to == viewer]
    return [render(core, m) for m in sorted(messages, key=lambda m: m.ts)]
