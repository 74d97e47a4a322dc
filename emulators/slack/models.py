"""Plain data records of the emulated workspace and of everything observed on the wire.

These are the emulator's source of truth; the JSON Slack returns is rendered from them on demand
(`payloads.py`), so an edit, a new reply or a reaction shows up consistently in every later response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

JSON = dict[str, Any]

ChannelKind = Literal["public", "private", "im", "mpim"]
TokenKind = Literal["bot", "app", "user"]
# "stopped_by_user": the person pressed Slack's own stop on the stream (agent_session_stopped);
# "expired": Slack ended it on its own (api_stream.py).
StreamPhase = Literal["streaming", "completed", "stopped_by_user", "expired"]
GuestKind = Literal["multi", "single"]
Transport = Literal["socket", "http"]


@dataclass
class User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False
    tz: str = "Europe/London"
    updated: int = field(default_factory=lambda: int(time.time()))
    # Another organisation's team for a Slack Connect user (None: this workspace's).
    team_id: str | None = None
    # A guest account: "multi" (multi-channel, `is_restricted`) or "single" (single-channel, also
    # `is_ultra_restricted`); None for a full member (see README "Guests and user groups").
    guest: GuestKind | None = None
    # A workspace admin or owner (users.info `is_admin` / `is_owner`; an owner is an admin too).
    is_admin: bool = False
    is_owner: bool = False

    @property
    def display_name(self) -> str:
        return self.name


@dataclass
class Channel:
    id: str
    name: str
    kind: ChannelKind
    members: list[str]
    created: int
    creator: str
    is_archived: bool = False
    im_user: str | None = None  # for an im: the human on the other side of the bot
    topic: str = ""
    purpose: str = ""
    # ts -> message, in posting order (ts are strictly increasing, so insertion order == ts order)
    messages: dict[str, Message] = field(default_factory=dict)
    ephemerals: list[Message] = field(default_factory=list)

    @property
    def channel_type(self) -> str:
        """The `channel_type` of message events (§2.2): channel / group / im / mpim."""
        return {"public": "channel", "private": "group", "im": "im", "mpim": "mpim"}[self.kind]

    @property
    def history_scope(self) -> str:
        return {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}[self.kind] + ":history"

    @property
    def read_scope(self) -> str:
        return {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}[self.kind] + ":read"

    @property
    def subscription(self) -> str:
        """The bot_events subscription that delivers this conversation's message events."""
        return "message." + {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}[self.kind]


@dataclass
class TaskCard:
    """A `task_update` card of a streamed message, as a person sees it.

    Slack replaces `title` and `status` with each update and appends `details` / `output` (streamed
    deltas, concatenated as sent); `sources` accumulate without duplicates.
    """

    id: str
    title: str = ""
    status: str = "pending"
    details: str = ""
    output: str = ""
    sources: list[JSON] = field(default_factory=list)


@dataclass
class StreamState:
    phase: StreamPhase
    started_at: float
    recipient_user_id: str | None
    recipient_team_id: str | None
    task_display_mode: str = "timeline"
    markdown: list[str] = field(default_factory=list)
    chunks: list[JSON] = field(default_factory=list)
    tasks: dict[str, TaskCard] = field(default_factory=dict)
    plan_title: str | None = None
    blocks: list[JSON] = field(default_factory=list)
    stopped_at: float | None = None
    appends: int = 0

    @property
    def text(self) -> str:
        return "".join(self.markdown)


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[JSON] | None = None  # as given by the author; None = Slack derives rich_text from text
    markdown_text: str | None = None
    attachments: list[JSON] | None = None
    thread_ts: str | None = None  # set on replies (root ts); roots expose ts as thread_ts once replied
    subtype: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    client_msg_id: str | None = None
    file_ids: list[str] = field(default_factory=list)
    files_as_stubs: bool = False  # Slack Connect: events/history carry {id, file_access} only
    upload: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: JSON | None = None
    replies: list[str] = field(default_factory=list)  # reply ts, for a root
    reply_users: list[str] = field(default_factory=list)
    tombstone: bool = False
    stream: StreamState | None = None
    metadata: JSON | None = None
    ephemeral_to: str | None = None
    # An ephemeral posted into a thread that has no replies yet: accepted, never shown (README).
    ephemeral_hidden: bool = False
    broadcast: bool = False
    derived_blocks: list[JSON] | None = None  # rich_text Slack builds from `text` (stable block ids)
    # Link previews chosen when posted (chat.postMessage `unfurl_links` / `unfurl_media`, side_effects.py)
    unfurl_links: bool = True
    unfurl_media: bool = True

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None


@dataclass
class FileShare:
    channel: str
    ts: str
    thread_ts: str | None
    share_user: str


@dataclass
class FileRecord:
    id: str
    name: str
    title: str
    user: str
    path: Path
    created: int
    mimetype: str
    filetype: str
    pretty_type: str
    size: int = 0
    mode: str = "hosted"
    uploaded: bool = False  # bytes are on disk
    completed: bool = False  # shared/finalised (person upload or files.completeUploadExternal)
    alt_txt: str | None = None
    snippet_type: str | None = None
    preview: str | None = None
    lines: int | None = None
    image_size: tuple[int, int] | None = None
    shares: list[FileShare] = field(default_factory=list)
    public_secret: str = ""
    # When Slack has processed an API upload, so a `slack_file` may name it (README "Image blocks").
    ready_at: float = 0.0
    deleted: bool = False  # files.delete

    @property
    def is_image(self) -> bool:
        return self.mimetype.startswith("image/")


@dataclass
class UserGroup:
    """A user group (`S…`, mentioned as `<!subteam^S…>`): what usergroups.users.list lists."""

    id: str
    handle: str
    name: str
    members: list[str]


@dataclass
class HomeView:
    """The Home tab one person sees: the last view views.publish set for them."""

    id: str
    hash: str
    blocks: list[JSON]
    private_metadata: str
    callback_id: str
    external_id: str
    published_at: float


@dataclass
class Token:
    value: str
    kind: TokenKind
    scopes: set[str]
    user_id: str  # bot user for bot tokens, the human for user tokens, "" for app tokens
    revoked: bool = False


@dataclass
class CallRecord:
    """One Web API call as the emulator saw it (for assertions: `slack.calls`)."""

    method: str
    params: JSON
    token_kind: TokenKind | None
    at: float
    http_method: str
    http_status: int = 200
    ok: bool = False
    error: str | None = None
    response: JSON = field(default_factory=dict)

    def __str__(self) -> str:
        outcome = "ok" if self.ok else f"error={self.error}"
        return f"{self.method} [{self.token_kind or '-'}] {self.http_status} {outcome}"


@dataclass
class Envelope:
    """One delivery attempt of a payload to the app (a Socket Mode frame or a signed HTTP POST).

    A redelivery (ack timeout, HTTP failure, or the `deliver_twice_every` drill) is a *new* Envelope with
    a new `envelope_id`, the same payload (same `event_id`) and `retry_attempt + 1`, as in the fixture
    `socket_mode/envelope_events_api_retry.json`.
    """

    envelope_id: str
    type: str  # events_api | slash_commands | interactive
    payload: JSON
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""
    created_at: float = field(default_factory=time.time)
    transport: Transport = "socket"
    sent_at: float | None = None
    connection_id: str | None = None
    acked_at: float | None = None
    ack_connection_id: str | None = None
    ack_payload: JSON | None = None
    extra_acks: int = 0
    http_status: int | None = None
    http_error: str | None = None
    duplicate_of: str | None = None  # envelope_id of the first delivery of the same payload
    redelivered_as: str | None = None

    @property
    def event_id(self) -> str | None:
        value = self.payload.get("event_id")
        return value if isinstance(value, str) else None

    @property
    def event_type(self) -> str | None:
        event = self.payload.get("event")
        if isinstance(event, dict):
            subtype = event.get("subtype")
            return f"{event.get('type')}/{subtype}" if subtype else str(event.get("type"))
        return None

    @property
    def acked(self) -> bool:
        return self.acked_at is not None

    @property
    def ack_latency(self) -> float | None:
        if self.acked_at is None or self.sent_at is None:
            return None
        return self.acked_at - self.sent_at

    def frame(self) -> JSON:
        """The Socket Mode wire frame (§10.2 step 3); retry fields only for events_api."""
        body: JSON = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = self.retry_reason
        return body

    def __str__(self) -> str:
        what = self.event_type or self.payload.get("command") or self.payload.get("type")
        state = f"acked in {self.ack_latency * 1000:.0f} ms" if self.ack_latency is not None else "unacked"
        if self.http_status is not None:
            state += f" http={self.http_status}"
        return f"{self.type}:{what} attempt={self.retry_attempt} {state}"


@dataclass
class ConnectionRecord:
    id: str
    ticket: str
    opened_at: float
    closed_at: float | None = None
    frames_sent: int = 0
    acks_received: int = 0
    disconnect_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass
class StatusEntry:
    """One change of an assistant thread status. `source`: api | cleared_by_reply | expired."""

    at: float
    status: str
    loading_messages: list[str] | None = None
    source: str = "api"


@dataclass
class DownloadRecord:
    host: str  # primary | slack_alt | foreign
    path: str
    file_id: str | None
    status: int
    served_bytes: bool
    authorization: str | None


@dataclass
class ResponseUrlPost:
    """A `respond()` POST received on a response_url."""

    url_id: str
    body: JSON
    at: float
    status: int
