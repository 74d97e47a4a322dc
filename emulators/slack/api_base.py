"""Shared plumbing of the Web API handlers: parameters, errors, method specs, access checks.

Slack accepts arguments from the query string, a form body or a JSON body, and the SDK uses all three
(§4.1, §10.3: JSON for chat/assistant/stream methods, query params on POSTs with empty bodies for
files/reactions/replies/auth/apps). Values from query/form are strings ("1", "true", JSON text), values
from JSON are native; `Params` hides the difference.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .constants import BOT_USER_ID
from .models import JSON, Channel, Token, TokenKind

if TYPE_CHECKING:
    from .core import Core


class ApiError(Exception):
    """A Slack error answer: HTTP 200 (unless `status`) with `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


class Params:
    def __init__(self, values: JSON) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, dict | list)
            else str(value)
        )

    def require(self, name: str, error: str) -> str:
        value = self.text(name)
        if value is None:
            raise ApiError(error)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")

    def number(self, name: str, default: int, error: str = "invalid_arguments") -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(error) from None

    def structured(self, name: str, error: str) -> Any:
        """A structured argument given natively (JSON body) or as JSON text (form/query)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ApiError(error) from None
        return value


@dataclass
class ApiCall:
    method: str
    params: Params
    token: Token
    http_method: str
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        """The user the token acts as: the bot user for bot tokens, the human for user tokens."""
        return self.token.user_id or BOT_USER_ID

    @property
    def is_bot(self) -> bool:
        return self.token.kind == "bot"


Handler = Callable[["Core", ApiCall], Awaitable[JSON]]
ScopeRule = tuple[str, ...] | Callable[["Core", Params], tuple[str, ...]]

BOT_OR_USER: frozenset[TokenKind] = frozenset({"bot", "user"})
BOT_ONLY: frozenset[TokenKind] = frozenset({"bot"})
APP_ONLY: frozenset[TokenKind] = frozenset({"app"})


@dataclass(frozen=True)
class MethodSpec:
    """How to authorise and run one Web API method. `scopes` lists alternatives (any one suffices)."""

    handler: Handler
    scopes: ScopeRule = ()
    token_kinds: frozenset[TokenKind] = BOT_OR_USER
    channel_param: str | None = "channel"


def conversation_scope(kind: str, param: str = "channel") -> Callable[[Core, Params], tuple[str, ...]]:
    """Scope rule for methods whose scope depends on the conversation type (`*:history`, `*:read`)."""

    def rule(core: Core, params: Params) -> tuple[str, ...]:
        channel = core.ws.channel(params.text(param) or "")
        if channel is None:
            return ()  # the handler answers channel_not_found
        return (channel.history_scope if kind == "history" else channel.read_scope,)

    return rule


def get_channel(core: Core, call: ApiCall, param: str = "channel") -> Channel:
    """The conversation named by `param`, if the caller can see it; `channel_not_found` otherwise.

    A user ID is accepted where Slack accepts one (posting to `U…` goes to the app's DM with that user).
    """
    return channel_by_ref(core, call, call.params.text(param))


def channel_by_ref(core: Core, call: ApiCall, ref: str | None) -> Channel:
    """`get_channel` for an ID that does not come from a single parameter (e.g. a `channels` list)."""
    if ref is None:
        raise ApiError("channel_not_found")
    if ref.startswith(("U", "W")) and ref in core.ws.users and call.is_bot:
        return core.ws.dm(ref)
    channel = core.ws.channel(ref)
    if channel is None or not core.ws.can_see(channel, call.principal):
        raise ApiError("channel_not_found")
    return channel


def require_member(core: Core, call: ApiCall, channel: Channel, *, public_write: bool = False) -> None:
    """`not_in_channel` unless the caller is a member (or may post publicly with chat:write.public)."""
    if call.principal in channel.members:
        return
    if public_write and channel.kind == "public" and "chat:write.public" in call.token.scopes:
        return
    raise ApiError("not_in_channel")


def require_writable(channel: Channel) -> None:
    if channel.is_archived:
        raise ApiError("is_archived")
