"""What a failed Anthropic request means for the bot: the thread's one line, a retry, or a reset.

Errors are told apart by what the API states, never by the wording of its messages: the HTTP
status, `error.type` and the SDK's known `error.details.error_code`s (`_error_classes.py`), plus
the identifiers this request sent (its model, container and file ids) when the message names one
of them. The body is `{"type": "error", "error": {"type", "message", "details"?}, "request_id"}`
with a `request-id` header (anthropic-code-execution.md §0); the request id goes into every log
line so the operator can quote it to Anthropic.

The expired-container error is undocumented (reference §6, §11). Observed: an untyped HTTP 500
`api_error` for an expired id, a 404 for an id that never existed (pydantic/pydantic-ai#7833 and
its test `test_anthropic_code_execution_files_rejected_container_is_dropped_and_retried`). So a
404 or an error that names the container means "gone", while a bare 500 is ambiguous: it is also
what an outage looks like, and throwing the REPL away on every outage would wipe every active
thread. `container_in_doubt` marks that case (`ContainerInDoubt`); the conversation then sends its next
request without the container: answered, the container was gone; failing too, it is an outage,
and the container is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic

OVERLOADED = (
    "Claude is overloaded right now and did not answer after several tries. Your message is kept: press "
    "*Retry* or send another message in a minute."
)
UNREACHABLE = (
    "Claude could not be reached (timeouts or dropped connections). Your message is kept: press *Retry* "
    "or send another message in a minute."
)
BAD_KEY = "The bot's Anthropic API key was rejected; ask whoever runs the bot to check ANTHROPIC_API_KEY."
BILLING = (
    "The bot's Anthropic account cannot be billed right now; ask whoever runs the bot to check its "
    "plan and credit in the Claude Console."
)
FILE_GONE = (
    "A file of this thread is no longer available at Anthropic (files expire or get deleted). "
    "Attach it again, or press *New session* to start over."
)
MODEL_NOT_FOUND = "The configured Claude model was not found; ask whoever runs the bot to check CLAUDE_MODEL."
TOO_LONG = (
    "This thread's conversation no longer fits in Claude's context window. "
    "Press *New session* to start over (the thread stays here)."
)
REJECTED = "Claude rejected the request (the details are in the bot's log)."

# `error.details.error_code`s of the SDK (`anthropic/_error_classes.py`) that say a file is gone.
FILE_GONE_CODES = frozenset({"file_expired", "file_not_downloadable"})
# The documented wording of the context-window 400 (platform docs "Errors"); it has no error_code,
# so this one message prefix is the only way to recognise it.
PROMPT_TOO_LONG = "prompt is too long"


class ClaudeError(Exception):
    """A request failed for good. `user_message` is the one line for the thread; `retryable` means
    the person's message is kept and the thread offers Retry."""

    def __init__(self, user_message: str, *, detail: str = "", retryable: bool = False) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.retryable = retryable


class ContainerGone(ClaudeError):
    """The thread's container was rejected (expired or unknown): the turn starts a new one."""


class ContainerInDoubt(ClaudeError):
    """A bare 500 outlived the retries while a container was sent: expired, or an outage. Raised
    with the outage's message, which stands if a request without the container fails too."""


@dataclass(frozen=True)
class ApiFailure:
    """One failed request as the API described it. `status` None: no HTTP answer at all (a dropped
    connection, a timeout, a stream that broke before the response started)."""

    status: int | None
    error_type: str = ""
    message: str = ""
    error_code: str | None = None
    request_id: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        head = f"{self.status} {self.error_type}" if self.status is not None else "no response"
        code = f" [{self.error_code}]" if self.error_code else ""
        rid = f" (request {self.request_id})" if self.request_id else ""
        return f"{head}{code}: {self.message}{rid}"

    def names(self, identifiers: Iterable[str | None]) -> bool:
        """Whether the message quotes one of these identifiers (ids are unique strings, so this
        is not guessing from wording)."""
        return any(ident and ident in self.message for ident in identifiers)


def parse_failure(
    status: int, body: str, headers: Mapping[str, str], retry_after: float | None = None
) -> ApiFailure:
    """An error response as `ApiFailure` (a body that is not the documented JSON is kept as text)."""
    request_id = headers.get("request-id")
    try:
        data: Any = json.loads(body)
    except ValueError:
        return ApiFailure(status, "", body[:300], None, request_id, retry_after)
    return failure_from_body(status, data, request_id, retry_after)


def failure_from_body(
    status: int | None, data: Any, request_id: str | None = None, retry_after: float | None = None
) -> ApiFailure:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return ApiFailure(status, "", str(data)[:300], None, request_id, retry_after)
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    if request_id is None and isinstance(data.get("request_id"), str):
        request_id = data["request_id"]
    return ApiFailure(
        status,
        str(error.get("type") or ""),
        str(error.get("message") or ""),
        code if isinstance(code, str) else None,
        request_id,
        retry_after,
    )


@dataclass(frozen=True)
class Sent:
    """The identifiers a request carried, to recognise an error that names one of them."""

    model: str = ""
    container_id: str | None = None
    file_ids: frozenset[str] = field(default_factory=frozenset)


def container_in_doubt(failure: ApiFailure, sent: Sent) -> bool:
    """A bare 500 that outlived the retries while a container was sent: expiry or an outage?"""
    return (
        sent.container_id is not None
        and failure.status == 500
        and failure.error_code is None
        and not failure.names([sent.model, *sent.file_ids])
    )


def classify(failure: ApiFailure, sent: Sent) -> ClaudeError:
    """Map a failed request (after retries) to what the bot does about it. A bare 500 with a
    container is an outage here; `ClaudeApi` raises `ContainerInDoubt` for it instead."""
    detail = str(failure)
    status = failure.status
    if status is None:
        # No HTTP answer: a dropped connection, or an `event: error` before the response started.
        busy = failure.error_type in ("overloaded_error", "rate_limit_error")
        return ClaudeError(OVERLOADED if busy else UNREACHABLE, detail=detail, retryable=True)
    # A file that is gone (expired, deleted) is not the sandbox: a new container would not help.
    if failure.error_code in FILE_GONE_CODES or failure.names(sent.file_ids):
        return ClaudeError(FILE_GONE, detail=detail)
    if sent.container_id is not None and (
        failure.names([sent.container_id]) or (status == 404 and not failure.names([sent.model]))
    ):
        return ContainerGone("The sandbox expired.", detail=detail)
    if status == 401 or failure.error_type == "authentication_error":
        return ClaudeError(BAD_KEY, detail=detail)
    if status == 403 or failure.error_type == "permission_error":
        return ClaudeError(BAD_KEY, detail=detail)
    if status == 402 or failure.error_type == "billing_error":
        return ClaudeError(BILLING, detail=detail)
    if status == 404:
        return ClaudeError(MODEL_NOT_FOUND, detail=detail)
    if status == 413 or failure.error_type == "request_too_large":
        return ClaudeError("The request was too large for the Anthropic API.", detail=detail)
    if status == 400 and failure.message.startswith(PROMPT_TOO_LONG):
        return ClaudeError(TOO_LONG, detail=detail)
    if failure.error_type == "rate_limit_error" or status in (408, 409, 429) or status >= 500:
        return ClaudeError(OVERLOADED, detail=detail, retryable=True)
    return ClaudeError(REJECTED, detail=detail)


def classify_sdk(exc: Exception) -> ClaudeError:
    """The same for the SDK's exceptions (file metadata, deletion, the model lookup)."""
    if isinstance(exc, anthropic.APIStatusError):
        failure = failure_from_body(exc.status_code, exc.body, exc.request_id)
        if not failure.message:
            failure = ApiFailure(exc.status_code, "", str(exc.message), None, exc.request_id)
        return classify(failure, Sent())
    if isinstance(exc, anthropic.APIConnectionError):
        return classify(ApiFailure(None, message=repr(exc)), Sent())
    return ClaudeError("Something went wrong talking to Claude (details in the bot's log).", detail=repr(exc))
