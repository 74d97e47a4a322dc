"""The neutral types where the Slack side and the Claude side meet.

Neither side imports the other: the Slack surface turns events into `Inbound` messages and renders
`TurnEvent`s; the Claude side consumes prepared user content and emits `TurnEvent`s. The engine wires
them together. Everything here is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """(team, channel, thread root ts). A DM's top-level message is its own root.

    Containers, history and files never cross thread keys.
    """

    team_id: str
    channel_id: str
    thread_ts: str

    def __str__(self) -> str:
        return f"{self.team_id}:{self.channel_id}:{self.thread_ts}"

    @classmethod
    def parse(cls, value: str) -> ThreadKey:
        team_id, channel_id, thread_ts = value.split(":", 2)
        return cls(team_id, channel_id, thread_ts)


@dataclass(frozen=True, slots=True)
class InboundFile:
    """A Slack file attached to a message. `stub` means Slack sent only the id (Slack Connect)."""

    slack_file_id: str
    name: str = ""
    mimetype: str = ""
    size: int = 0
    url: str = ""
    stub: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.slack_file_id,
            "name": self.name,
            "mimetype": self.mimetype,
            "size": self.size,
            "url": self.url,
            "stub": self.stub,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundFile:
        return cls(
            slack_file_id=data["id"],
            name=data.get("name", ""),
            mimetype=data.get("mimetype", ""),
            size=int(data.get("size", 0)),
            url=data.get("url", ""),
            stub=bool(data.get("stub", False)),
        )


class InboundKind(StrEnum):
    MENTION = "mention"
    MESSAGE = "message"
    DM = "dm"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message a person wrote that the bot must answer (exactly once, in order)."""

    key: ThreadKey
    ts: str
    user_id: str
    text: str
    kind: InboundKind
    files: tuple[InboundFile, ...] = ()
    event_id: str | None = None
    # First contact in a thread people were already talking in: give Claude the earlier messages.
    wants_thread_context: bool = False
    # The sender's own Slack team, when it is not the workspace's: a Slack Connect user from another
    # organisation. What Slack wants as `recipient_team_id` of an answer streamed to them.
    user_team: str | None = None
    # Stored from an event that may lack the message's files (an `app_mention` without any): its
    # twin event, which carries them when there are some, is still to come (bot/slack/inbound.py).
    awaits_twin: bool = False


@dataclass(frozen=True, slots=True)
class Author:
    user_id: str
    name: str


# --- what a turn shows while it runs ----------------------------------------------------------------


class StepStatus(StrEnum):
    RUNNING = "in_progress"
    DONE = "complete"
    FAILED = "error"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """More of Claude's answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class StepStarted:
    """A code execution (bash, Python cell, file edit) or a tool call began."""

    step_id: str
    kind: str  # "bash" | "python" | "edit" | "tool" | "web"
    title: str
    code: str


@dataclass(frozen=True, slots=True)
class StepFinished:
    step_id: str
    status: StepStatus
    stdout: str = ""
    stderr: str = ""
    return_code: int | None = None
    error: str | None = None
    file_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """A line for the person that is not part of the answer (sandbox reset, history trimmed, ...)."""

    text: str


@dataclass(frozen=True, slots=True)
class ResponseInterrupted:
    """The model response being streamed broke off after part of it arrived. What arrived stands
    (its code may have run), and Claude is asked to go on from there rather than asked again."""


@dataclass(frozen=True, slots=True)
class TextWithdrawn:
    """The last `chars` characters of answer text already emitted are not part of the answer.

    Sent on a refusal: the API documents that a response ending in `stop_reason: "refusal"` is to be
    treated as incomplete, so what it streamed must not stand as the answer. The Slack side removes
    that text from what people see (where Slack allows) and from any answer file; `reason` is the one
    line shown instead."""

    chars: int
    reason: str


@dataclass(frozen=True, slots=True)
class Citation:
    """The answer text just emitted cites this web page. Sent after the text it backs, so a marker
    placed where it arrives follows the claim; the Slack side numbers sources in order of first use
    and lists them under the answer."""

    url: str
    title: str


TurnEvent = TextDelta | StepStarted | StepFinished | Notice | ResponseInterrupted | TextWithdrawn | Citation


class TurnOutcome(StrEnum):
    ANSWERED = "answered"
    STOPPED = "stopped"
    FAILED = "failed"
    LIMIT = "limit"  # a cap (continuations, duration, max_tokens, context) ended it early
    REFUSED = "refused"
    LOST = "lost"  # another replica took its thread over (this one was cut off from the database)
    SUSPENDED = "suspended"  # the bot shut down mid-turn: the turn goes on after the restart


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # all cache writes; `cache_write_1h_tokens` of them with the 1-hour TTL
    requests: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0
    # Set by the engine, which knows the prices (bot/governance/pricing.py): micro-dollars, and the
    # sandbox time billed for the turn.
    cost_micros: int = 0
    container_seconds: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.requests + other.requests,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.web_search_requests + other.web_search_requests,
            self.cost_micros + other.cost_micros,
            self.container_seconds + other.container_seconds,
        )

    @property
    def total_input(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass(frozen=True, slots=True)
class WebAccess:
    """What Claude may do on the web in a turn: search, read pages, and which sites (one list or the
    other: the API refuses both at once)."""

    search: bool = False
    fetch: bool = False
    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SkillRef:
    """An Agent Skill loaded into the sandbox: one of Anthropic's (`pptx`) or an operator's, pinned
    to a version. `name` and `description` are what people are told about it."""

    kind: str  # "anthropic" | "custom"
    skill_id: str
    version: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """The per-turn knobs: the deployment's settings, with a channel's own configuration in place
    where an admin set one (bot/assistants/)."""

    web: WebAccess = field(default_factory=WebAccess)
    skills: tuple[SkillRef, ...] = ()
    model: str | None = None  # None: the deployment's model
    persona: str = ""  # the channel's instructions for the system prompt
    data_sources: frozenset[str] | None = None  # the sources the channel may query; None: all


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool call returns to Claude (text only: tool results from code cannot carry images)."""

    text: str
    is_error: bool = False


@dataclass(slots=True)
class TurnResult:
    outcome: TurnOutcome
    text: str = ""
    output_file_ids: list[str] = field(default_factory=list)
    message: str | None = None  # the one line to show when the outcome is not a plain answer
