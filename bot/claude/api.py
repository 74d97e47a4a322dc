"""The Anthropic API as the bot uses it: streamed messages, the Files API, a model lookup.

Streaming requests and file bodies go over one shared aiohttp session, with the SDK's retry policy
reproduced in `retry.py`. Two measured reasons: with hundreds of concurrent streams the SDK's HTTP
connection pool spends time quadratic in the number of open connections (a fifth of the bot's CPU
in the 200-thread benchmark), and the SDK reads a file path's whole content into memory before
uploading it, while we promise never to. The SDK still serves the light calls (file metadata,
deletion, the model lookup), with the API version pinned below.

Only a request whose response has not started is sent again. Once a content block has arrived,
code may have run in the sandbox (a server tool runs as soon as its block is complete), and the
REPL keeps its effects: sending the same request again would run it a second time. Such a broken
stream raises `ResponseCutOff` with what arrived, and the conversation goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import anthropic
from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

from bot import metrics
from bot.claude.errors import (
    BAD_KEY,
    OVERLOADED,
    UNREACHABLE,
    ApiFailure,
    ClaudeError,
    ContainerInDoubt,
    Sent,
    classify,
    classify_sdk,
    container_in_doubt,
    parse_failure,
)
from bot.claude.file_refs import referenced_file_ids
from bot.claude.options import beta_headers, container_id_of
from bot.claude.retry import backoff, check_wait, human_duration, retry_after_seconds, should_retry
from bot.claude.stream import (
    LineTooLong,
    ModelResponse,
    ResponseAccumulator,
    SSELines,
    SSEParser,
    StreamError,
)
from bot.model import Notice, TurnEvent

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The Messages API version this bot is written and tested against (reference §0: what SDK 2.x
# sends). Pinned here rather than taken from the installed SDK, so that upgrading the SDK cannot
# silently move the bot to an API version whose behaviour it has never seen
# (https://platform.claude.com/docs/en/api/versioning).
ANTHROPIC_VERSION = "2026-10-21"
EventSink = Callable[[list[TurnEvent]], Awaitable[None]]

# A sandbox result arrives whole, in one SSE `data:` line: a large printout makes a long one.
MAX_SSE_LINE = 16 * 1024 * 1024
# Waits at least this long are announced in the thread, so a quiet minute does not look like a hang.
ANNOUNCE_WAIT = 10.0


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    filename: str
    mime_type: str
    size: int


class ResponseCutOff(Exception):
    """The stream broke after the response had started. `response` holds what arrived (see
    `ResponseAccumulator.partial`); it has no stop reason and no container."""

    def __init__(self, response: ModelResponse, failure: ApiFailure) -> None:
        super().__init__(str(failure))
        self.response = response
        self.failure = failure


@dataclass
class _Retry(Exception):
    """A request that failed before its response started; `retry` is what the policy allows."""

    failure: ApiFailure
    retry: bool = True


def sent_ids(body: dict[str, Any]) -> Sent:
    return Sent(
        model=str(body.get("model", "")),
        container_id=container_id_of(body.get("container")),
        file_ids=frozenset(referenced_file_ids(body.get("messages") or [])),
    )


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
            api_key=api_key,
            base_url=self.base_url,
            max_retries=max_retries,
            timeout=timeout,
            default_headers={"anthropic-version": ANTHROPIC_VERSION},
            # The SDK's client follows redirects, and a redirect keeps every header but
            # `Authorization` when it changes origin: an SDK that sends the key as `x-api-key` (older
            # ones did) would hand it to whatever host the redirect names. The API does not redirect.
            http_client=DefaultAsyncHttpxClient(follow_redirects=False),
        )
        self._headers = {**self.client.auth_headers, "anthropic-version": ANTHROPIC_VERSION}
        self._session: aiohttp.ClientSession | None = None
        self._max_connections = max_connections

    def _http(self) -> aiohttp.ClientSession:
        """The session for streams and file bodies. Every request on it carries the API key and is sent
        with `allow_redirects=False`: aiohttp drops only `Authorization` on a redirect to another
        origin, so a followed redirect could hand the key (in any other header) to another host."""
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

    async def stream(
        self, body: dict[str, Any], on_events: EventSink, *, deadline: float | None = None
    ) -> ModelResponse:
        """One model response, streamed. Failures before the response started are retried (no
        wait past `deadline`, the event loop's clock); a stream that breaks later raises
        `ResponseCutOff`; anything else that persists raises `ClaudeError`."""
        payload = json.dumps({**body, "stream": True}, ensure_ascii=False, separators=(",", ":"))
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await self._stream_once(payload, on_events, beta_headers(body))
            except _Retry as failed:
                failure = failed.failure
                attempt += 1
                if not failed.retry or attempt > self.max_retries:
                    raise _give_up(body, failure) from None
                wait = backoff(attempt, failure.retry_after)
                check_wait(wait, now=loop.time(), deadline=deadline, detail=str(failure))
                log.warning("model request failed (%s); retry %d in %.1f s", failure, attempt, wait)
                if wait >= ANNOUNCE_WAIT:
                    await on_events(
                        [Notice(f"Anthropic asked to wait {human_duration(wait)}; trying again then.")]
                    )
                await asyncio.sleep(wait)

    async def _stream_once(self, payload: str, on_events: EventSink, betas: dict[str, str]) -> ModelResponse:
        lines = SSELines(MAX_SSE_LINE)
        parser = SSEParser()
        acc = ResponseAccumulator()
        request_id: str | None = None
        headers = {
            **self._headers,
            **betas,
            "content-type": "application/json",
            "accept": "text/event-stream",
        }
        try:
            async with self._http().post(
                f"{self.base_url}/v1/messages", data=payload, headers=headers, allow_redirects=False
            ) as resp:
                request_id = resp.headers.get("request-id")
                if resp.status != 200:
                    metrics.ANTHROPIC_ERRORS.labels(str(resp.status)).inc()
                    failure = parse_failure(
                        resp.status, await resp.text(), resp.headers, retry_after_seconds(resp.headers)
                    )
                    raise _Retry(failure, should_retry(resp.status, resp.headers))
                async for chunk in resp.content.iter_any():
                    shown: list[TurnEvent] = []
                    try:
                        for line in lines.feed(chunk):
                            event = parser.feed(line)
                            if event is not None:
                                shown += acc.feed(event)
                    finally:
                        # What arrived in the same read as an `event: error` is kept with the
                        # response (acc), so it must be shown too: otherwise Claude, asked to go
                        # on, would not repeat it and the thread would never see it.
                        if shown:
                            await on_events(shown)
        except StreamError as exc:
            metrics.ANTHROPIC_ERRORS.labels(exc.error_type).inc()
            _broken(acc, ApiFailure(None, exc.error_type, exc.message, request_id=request_id))
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.ANTHROPIC_ERRORS.labels("connection").inc()
            _broken(acc, ApiFailure(None, message=repr(exc), request_id=request_id))
        except LineTooLong as exc:
            raise ClaudeError(
                "Claude's answer held a part too large for the bot to read (a very large code output?). "
                "Ask for a smaller output, or for the result as a file.",
                detail=repr(exc)[:300],
            ) from exc
        if acc.response.stop_reason is None:
            _broken(
                acc, ApiFailure(None, message="the stream ended before message_delta", request_id=request_id)
            )
        return acc.response

    async def model_exists(self, model: str) -> str:
        """The model's display name; raises ClaudeError when the key or the model is wrong."""
        try:
            info = await self.client.models.retrieve(model)
        except Exception as exc:
            raise classify_sdk(exc) from exc
        return str(info.display_name or info.id)

    # --- files ------------------------------------------------------------------------------------

    async def upload_file(
        self, path: Path, filename: str, mime_type: str, *, deadline: float | None = None
    ) -> FileInfo:
        """Upload from disk, streamed (aiohttp reads the file in chunks in its executor); retried
        like a model request, never waiting past `deadline` (the event loop's clock)."""
        url = f"{self.base_url}/v1/files"
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                form = aiohttp.FormData()
                form.add_field(
                    "file", handle, filename=filename, content_type=mime_type or "application/octet-stream"
                )
                async with self._http().post(
                    url, data=form, headers=self._headers, allow_redirects=False
                ) as resp:
                    text = await resp.text()
                    if resp.status == 200:
                        return _uploaded(text, filename)
                    failure = parse_failure(
                        resp.status, text, resp.headers, retry_after_seconds(resp.headers)
                    )
                    retry = should_retry(resp.status, resp.headers)
                    attempt += 1
                    if not retry or attempt > self.max_retries:
                        raise _upload_error(failure, filename, retryable=retry)
                    wait = backoff(attempt, failure.retry_after)
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
                failure = ApiFailure(None, message=repr(exc))
            finally:
                await asyncio.to_thread(handle.close)
            check_wait(wait, now=loop.time(), deadline=deadline, detail=f"upload of {filename}: {failure}")
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
        async with self._http().post(
            f"{self.base_url}/v1/files", data=body(), headers=headers, allow_redirects=False
        ) as resp:
            text = await resp.text()
            if resp.status != 200:
                failure = parse_failure(resp.status, text, resp.headers)
                raise _upload_error(failure, filename, retryable=should_retry(resp.status, resp.headers))
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
            async with self._http().get(url, headers=self._headers, allow_redirects=False) as resp:
                if resp.status != 200:
                    failure = parse_failure(resp.status, await resp.text(), resp.headers)
                    raise ClaudeError(_download_message(failure), detail=f"download of {file_id}: {failure}")
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


def _upload_error(failure: ApiFailure, filename: str, *, retryable: bool) -> ClaudeError:
    return ClaudeError(
        _upload_message(failure, filename), detail=f"upload of {filename}: {failure}", retryable=retryable
    )


def _upload_message(failure: ApiFailure, filename: str) -> str:
    if failure.status == 413 or failure.error_type == "request_too_large":
        return f"`{filename}` is larger than the Anthropic Files API accepts (500 MB)."
    if failure.status in (401, 403):
        return BAD_KEY
    if failure.error_code == "storage_quota_exceeded":
        # Files API: 1 TB per organisation (reference §5); deleting old files frees it.
        return (
            f"`{filename}` could not be uploaded: the bot's Anthropic file storage is full. Ask whoever "
            "runs the bot to free space (e.g. set FILE_RETENTION_DAYS)."
        )
    return f"`{filename}` could not be uploaded to the sandbox (Anthropic answered {failure.status})."


def _download_message(failure: ApiFailure) -> str:
    if failure.error_code == "file_expired":
        return "A file Claude produced had already expired at Anthropic, so it could not be downloaded."
    return "A file Claude produced could not be downloaded."


def _give_up(body: dict[str, Any], failure: ApiFailure) -> ClaudeError:
    """The error for a request that failed for good (see `bot.claude.errors`)."""
    sent = sent_ids(body)
    log.error("model request failed for good: %s", failure)
    if container_in_doubt(failure, sent):
        return ContainerInDoubt(OVERLOADED, detail=str(failure), retryable=True)
    return classify(failure, sent)


def _broken(acc: ResponseAccumulator, failure: ApiFailure) -> NoReturn:
    """A stream that failed: retried when nothing of the response had arrived, else cut off."""
    if acc.started:
        raise ResponseCutOff(acc.partial(), failure)
    raise _Retry(failure)
