"""The Anthropic API as the bot uses it: streamed messages, the Files API, a model lookup.

Streaming requests and file bodies go over one shared aiohttp session, with the SDK's retry policy
reproduced here (429, 408, 409, 5xx and dropped connections; `retry-after` honoured; exponential
backoff with jitter; `x-should-retry` obeyed; anthropic-code-execution.md §8). Two measured reasons:
with hundreds of concurrent streams the SDK's HTTP connection pool spends time quadratic in the number
of open connections (a fifth of the bot's CPU in the 200-thread benchmark), and the SDK reads a file
path's whole content into memory before uploading it, while we promise never to. The SDK still
serves the light calls (file metadata, deletion, the model lookup) and defines the API version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
from anthropic import AsyncAnthropic

from bot import metrics
from bot.claude.stream import (
    LineTooLong,
    ModelResponse,
    ResponseAccumulator,
    SSELines,
    SSEParser,
    StreamError,
)
from bot.model import ResponseRestarted, TurnEvent

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
EventSink = Callable[[list[TurnEvent]], Awaitable[None]]


# A sandbox result arrives whole, in one SSE `data:` line: a large printout makes a long one.
MAX_SSE_LINE = 16 * 1024 * 1024


class ClaudeError(Exception):
    """A request failed for good. `user_message` is the one line for the thread."""

    def __init__(self, user_message: str, *, detail: str = "", retryable: bool = False) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.retryable = retryable


class ContainerGone(ClaudeError):
    """The thread's container was rejected (expired or unknown)."""


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    filename: str
    mime_type: str
    size: int


@dataclass
class _Retry(Exception):
    """A failure the retry policy retries: an HTTP status, a dropped connection, a broken stream."""

    status: int | None
    message: str
    retry_after: float | None = None
    mid_stream: bool = False


OVERLOADED = (
    "Claude is overloaded right now and did not answer after several tries. Your message is kept: press "
    "*Retry* or send another message in a minute."
)
UNREACHABLE = (
    "Claude could not be reached (timeouts or dropped connections). Your message is kept: press *Retry* "
    "or send another message in a minute."
)
BAD_KEY = "The bot's Anthropic API key was rejected; ask whoever runs the bot to check ANTHROPIC_API_KEY."


def classify(status: int | None, message: str, *, sent_container: bool) -> ClaudeError:
    """Map a failed request (after retries) to what the bot does about it.

    The error for an expired or unknown container is not documented (reference §6 and §11: the one
    report is an untyped HTTP 500). So when we sent a container, a 404 that is not about the model, a
    400 naming the container, or a 500 that outlived the retries counts as "container gone": the turn
    tries once more with a fresh container (a transient 500 would have passed on retry). The 400 about
    a missing container id for pending tool calls is our bug, not expiry, and is excluded.
    """
    detail = f"{status}: {message}"
    lowered = message.lower()
    if status is None:
        return ClaudeError(UNREACHABLE, detail=message, retryable=True)
    # A file that is gone (expired, deleted) is not the sandbox: resetting it would not help.
    about_file = "file" in lowered
    names_container = "container" in lowered and "container_id is required" not in lowered and not about_file
    gone = (
        (status == 404 and "model" not in lowered and not about_file)
        or (status == 400 and names_container)
        or status == 500
    )
    if sent_container and gone:
        return ContainerGone("The sandbox expired.", detail=detail)
    if status in (401, 403):
        return ClaudeError(BAD_KEY, detail=detail)
    if status in (400, 404) and about_file:
        return ClaudeError(
            "A file of this thread is no longer available at Anthropic (files expire or get deleted). "
            "Attach it again, or press *New session* to start over.",
            detail=detail,
        )
    if status == 404 and "model" in lowered:
        return ClaudeError(
            "The configured Claude model was not found; ask whoever runs the bot to check CLAUDE_MODEL.",
            detail=detail,
        )
    if status == 400 and "prompt is too long" in lowered:
        return ClaudeError(
            "This thread's conversation no longer fits in Claude's context window. "
            "Press *New session* to start over (the thread stays here).",
            detail=detail,
        )
    if status == 413:
        return ClaudeError("The request was too large for the Anthropic API.", detail=detail)
    if status in (408, 409, 429) or status >= 500:
        return ClaudeError(OVERLOADED, detail=detail, retryable=True)
    return ClaudeError("Claude rejected the request (the details are in the bot's log).", detail=detail)


def classify_sdk(exc: Exception) -> ClaudeError:
    if isinstance(exc, anthropic.APIStatusError):
        return classify(exc.status_code, str(getattr(exc, "message", "") or exc), sent_container=False)
    if isinstance(exc, anthropic.APIConnectionError):
        return classify(None, repr(exc), sent_container=False)
    return ClaudeError("Something went wrong talking to Claude (details in the bot's log).", detail=repr(exc))


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """The SDK's policy: obey `x-should-retry`, else retry 408, 409, 429 and 5xx."""
    header = headers.get("x-should-retry")
    if header in ("true", "false"):
        return bool(header == "true")
    return status in (408, 409, 429) or status >= 500


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                seconds = float(value) * scale
            except ValueError:
                continue
            if 0 < seconds <= 60:
                return seconds
    return None


def backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    delay: float = min(INITIAL_RETRY_DELAY * 2.0 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def _error_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('message', '')}"
    return body[:300]


class ClaudeApi:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        max_retries: int,
        timeout: float,
        max_connections: int = 1000,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.max_retries = max_retries
        self.timeout = timeout
        self.client = AsyncAnthropic(
            api_key=api_key, base_url=self.base_url, max_retries=max_retries, timeout=timeout
        )
        self._headers = {
            **self.client.auth_headers,
            "anthropic-version": str(self.client.default_headers.get("anthropic-version", "2023-06-01")),
        }
        self._session: aiohttp.ClientSession | None = None
        self._max_connections = max_connections

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=self.timeout),
            )
        return self._session

    async def close(self) -> None:
        await self.client.close()
        if self._session is not None:
            await self._session.close()

    # --- messages ---------------------------------------------------------------------------------

    async def stream(self, body: dict[str, Any], on_events: EventSink) -> ModelResponse:
        """One model response, streamed, with retries. A stream that breaks after it started is
        requested again like any other failure; the caller is told so it can mark the restart."""
        sent_container = "container" in body
        payload = json.dumps({**body, "stream": True}, ensure_ascii=False, separators=(",", ":"))
        attempt = 0
        while True:
            try:
                return await self._stream_once(payload, on_events, sent_container=sent_container)
            except _Retry as failure:
                attempt += 1
                if attempt > self.max_retries:
                    raise classify(failure.status, failure.message, sent_container=sent_container) from None
                log.warning(
                    "model request failed (%s %s); retry %d", failure.status, failure.message, attempt
                )
                if failure.mid_stream:
                    await on_events([ResponseRestarted()])
                await asyncio.sleep(backoff(attempt, failure.retry_after))

    async def _stream_once(
        self, payload: str, on_events: EventSink, *, sent_container: bool
    ) -> ModelResponse:
        lines = SSELines(MAX_SSE_LINE)
        parser = SSEParser()
        acc = ResponseAccumulator()
        started = False
        headers = {**self._headers, "content-type": "application/json", "accept": "text/event-stream"}
        try:
            async with self._http().post(
                f"{self.base_url}/v1/messages", data=payload, headers=headers
            ) as resp:
                if resp.status != 200:
                    metrics.ANTHROPIC_ERRORS.labels(str(resp.status)).inc()
                    message = _error_message(await resp.text())
                    if should_retry(resp.status, resp.headers):
                        raise _Retry(resp.status, message, retry_after_seconds(resp.headers))
                    raise classify(resp.status, message, sent_container=sent_container)
                async for chunk in resp.content.iter_any():
                    shown: list[TurnEvent] = []
                    for line in lines.feed(chunk):
                        event = parser.feed(line)
                        if event is None:
                            continue
                        started = True
                        shown += acc.feed(event)
                    if shown:
                        await on_events(shown)
        except StreamError as exc:
            metrics.ANTHROPIC_ERRORS.labels(exc.error_type).inc()
            raise _Retry(None, str(exc), mid_stream=started) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.ANTHROPIC_ERRORS.labels("connection").inc()
            raise _Retry(None, repr(exc), mid_stream=started) from exc
        except LineTooLong as exc:
            raise ClaudeError(
                "Claude's answer held a part too large for the bot to read (a very large code output?). "
                "Ask for a smaller output, or for the result as a file.",
                detail=repr(exc)[:300],
            ) from exc
        if acc.response.stop_reason is None:
            raise _Retry(None, "the stream ended before message_delta", mid_stream=started)
        return acc.response

    async def model_exists(self, model: str) -> str:
        """The model's display name; raises ClaudeError when the key or the model is wrong."""
        try:
            info = await self.client.models.retrieve(model)
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return str(info.display_name or info.id)

    # --- files ------------------------------------------------------------------------------------

    async def upload_file(self, path: Path, filename: str, mime_type: str) -> FileInfo:
        """Upload from disk, streamed (aiohttp reads the file in chunks in its executor)."""
        url = f"{self.base_url}/v1/files"
        attempt = 0
        while True:
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                form = aiohttp.FormData()
                form.add_field(
                    "file", handle, filename=filename, content_type=mime_type or "application/octet-stream"
                )
                async with self._http().post(url, data=form, headers=self._headers) as resp:
                    text = await resp.text()
                    if resp.status == 200:
                        return _uploaded(text, filename)
                    retry = should_retry(resp.status, resp.headers)
                    attempt += 1
                    if not retry or attempt > self.max_retries:
                        raise _upload_error(resp.status, text, filename, retryable=retry)
                    wait = backoff(attempt, retry_after_seconds(resp.headers))
            except (aiohttp.ClientError, TimeoutError) as exc:
                attempt += 1
                log.warning("upload of %s failed (%r); attempt %d", filename, exc, attempt)
                if attempt > self.max_retries:
                    raise ClaudeError(
                        f"`{filename}` could not be uploaded to the sandbox: {UNREACHABLE}",
                        detail=repr(exc),
                        retryable=True,
                    ) from exc
                wait = backoff(attempt, None)
            finally:
                await asyncio.to_thread(handle.close)
            await asyncio.sleep(wait)

    async def upload_stream(
        self, chunks: AsyncIterator[bytes], size: int, filename: str, mime_type: str
    ) -> FileInfo:
        """Upload bytes as they arrive (no retry: the stream cannot be replayed; the caller retries
        from its copy on disk). The multipart body is written out by hand so that it has an exact
        Content-Length: `size` is known from Slack, and a streamed upload should not need chunked
        transfer encoding."""
        boundary = uuid.uuid4().hex
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {mime_type or 'application/octet-stream'}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in chunks:
                yield chunk
            yield tail

        headers = {
            **self._headers,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        async with self._http().post(f"{self.base_url}/v1/files", data=body(), headers=headers) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise _upload_error(
                    resp.status, text, filename, retryable=should_retry(resp.status, resp.headers)
                )
        return _uploaded(text, filename)

    async def file_info(self, file_id: str) -> FileInfo:
        try:
            meta = await self.client.files.retrieve_metadata(file_id)
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return FileInfo(meta.id, meta.filename, meta.mime_type, meta.size_bytes)

    async def download_file(self, file_id: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a generated file to `dest`; returns its size. Refuses files over `max_bytes`."""
        url = f"{self.base_url}/v1/files/{file_id}/content"
        try:
            async with self._http().get(url, headers=self._headers) as resp:
                if resp.status != 200:
                    message = _error_message(await resp.text())
                    raise ClaudeError(
                        "A file Claude produced could not be downloaded.", detail=f"{resp.status}: {message}"
                    )
                size = 0
                loop = asyncio.get_running_loop()
                handle = await loop.run_in_executor(None, dest.open, "wb")
                try:
                    async for chunk in resp.content.iter_chunked(1 << 20):
                        size += len(chunk)
                        if size > max_bytes:
                            raise ClaudeError("A file Claude produced is too large to post to Slack.")
                        await loop.run_in_executor(None, handle.write, chunk)
                finally:
                    await loop.run_in_executor(None, handle.close)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Includes a body that ends before its Content-Length (ClientPayloadError).
            raise ClaudeError(
                "A file Claude produced could not be downloaded (the connection failed).",
                detail=repr(exc),
                retryable=True,
            ) from exc
        return size

    async def delete_file(self, file_id: str) -> None:
        try:
            await self.client.files.delete(file_id)
        except anthropic.NotFoundError:
            return


def _uploaded(text: str, filename: str) -> FileInfo:
    """The Files API's answer to a successful upload."""
    data = json.loads(text)
    return FileInfo(
        data["id"], data.get("filename", filename), data.get("mime_type", ""), int(data.get("size_bytes", 0))
    )


def _upload_error(status: int, text: str, filename: str, *, retryable: bool) -> ClaudeError:
    return ClaudeError(
        _upload_message(status, filename),
        detail=f"files upload {status}: {_error_message(text)}",
        retryable=retryable,
    )


def _upload_message(status: int, filename: str) -> str:
    if status == 413:
        return f"`{filename}` is larger than the Anthropic Files API accepts (500 MB)."
    if status in (401, 403):
        return BAD_KEY
    return f"`{filename}` could not be uploaded to the sandbox (Anthropic answered {status})."
