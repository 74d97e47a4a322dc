"""``AnthropicEmulator``: the aiohttp server, its routes, and the knobs tests turn.

Routes (all under ``/v1``, with optional ``?beta=true``, reference §0):
``POST /messages`` (JSON or SSE), ``POST /messages/count_tokens``, ``GET /models``,
``GET /models/{id}``, ``POST/GET /files``, ``GET/DELETE /files/{id}``, ``GET /files/{id}/content``.
Every request needs the API key (``Authorization: Bearer`` as SDK 2.x sends it, or ``x-api-key``)
and a supported ``anthropic-version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import shutil
import tempfile
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from . import catalog, messages, skills
from .caching import DEFAULT_MIN_CACHEABLE_TOKENS, PromptCache, PromptTooLong, PromptUsage, count_prompt
from .containers import Container, ContainerRegistry, ExpiryMode
from .continuations import Turn
from .engine import Engine, RuntimeSettings
from .errors import ApiError, invalid_request, new_request_id
from .faults import Failure, Faults, ResponseCut
from .files_api import LEGACY_FILES_BETA, FileStore, StoredFile
from .messages import ParsedRequest
from .pacing import Latency
from .records import RequestRecord
from .script import ModelFn, echo_model
from .skills import SkillStore, betas_of
from .sse import JsonSink, SseSink
from .validation import Validator
from .visuals import VisualLimits
from .web import FakeWeb

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # the Messages API's documented request size limit
_RID = web.RequestKey("request_id", str)


def _drop_connection(request: web.Request) -> None:
    """End the TCP connection under a response in progress (after what was written is flushed)."""
    if request.transport is not None:
        request.transport.close()


def _size_if_file(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


class AnthropicEmulator:
    """An in-process Anthropic API: Messages (JSON + SSE), Files, Models, containers that run code.

    Usage::

        async with AnthropicEmulator(api_key="sk-ant-test") as emu:
            emu.model = Script([[Python("print(6 * 7)"), Say("42")]])
            client = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=emu.api_key)
    """

    def __init__(
        self,
        api_key: str = "sk-ant-test",
        *,
        validate_responses: bool = True,
        model: ModelFn | None = None,
        latency: Latency | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.validate_responses = validate_responses
        self.model: ModelFn = model or echo_model
        self.latency: Latency = latency or Latency()
        self.host = host
        self.port = port
        # Knobs (see README): limits and timings of the emulated API.
        self.context_window = 200_000
        self.server_steps_per_response = 10
        self.container_expiry_error: ExpiryMode = "500"
        self.bash_timeout_s = 120.0
        self.cell_timeout_s = 90.0
        self.ptc_timeout_s = 270.0
        self.ping_interval_s = 10.0
        self.max_file_bytes = DEFAULT_MAX_FILE_BYTES
        self.persist_repl_without_ptc = False
        self.checkpoint_idle_s: float | None = 300.0
        """A container idle this long is checkpointed; the next request restores it with its files
        and a fresh Python interpreter (README). ``None``: never."""
        self.tool_start_input = True
        """``False``: tool blocks start without ``input`` (the docs' streaming example), see README."""
        self.web = FakeWeb()
        """The pages ``web_search`` finds and ``web_fetch`` reads (``emu.web.add(url, title, text)``)."""
        self.skills = SkillStore()
        """Custom skills uploaded through the Skills API, and Anthropic's pre-built ones."""
        self.record_events = False
        """Keep every SSE event in ``RequestRecord.events`` (memory-hungry under load)."""
        # Observations.
        self.requests: list[RequestRecord] = []
        self.validation_failures: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_in_flight_per_container: dict[str, int] = {}
        self._per_container: Counter[str] = Counter()
        self._container_ttl_s = 3600.0
        self._clock_offset = 0.0
        self._faults = Faults()
        self._cache = PromptCache(DEFAULT_MIN_CACHEABLE_TOKENS)
        self._validator = Validator(self.validation_failures.append)
        self._root: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._runner: web.AppRunner | None = None
        self._registry: ContainerRegistry | None = None
        self._files: FileStore | None = None
        self._visuals: VisualLimits | None = None
        self._engine: Engine | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._root = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="anthropic-emulator-"))
        # If the process ends without stop(), still remove the temp root (uploads can be big).
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._root), True)
        await asyncio.to_thread((self._root / "files").mkdir)
        self._registry = ContainerRegistry(
            self._root, self._container_ttl_s, self.now, lambda: self.checkpoint_idle_s
        )
        self._files = FileStore(self._root / "files", lambda: self.max_file_bytes)
        self._visuals = VisualLimits(self._files)
        self._engine = Engine(
            files=self._files,
            containers=self._registry,
            settings=self._settings,
            model=lambda: self.model,
            web=self.web,
        )
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_REQUEST_BYTES * 2)
        app.add_routes(
            [
                web.post("/v1/messages", self._messages),
                web.post("/v1/messages/count_tokens", self._count_tokens),
                web.get("/v1/models", self._list_models),
                web.get("/v1/models/{model_id}", self._get_model),
                web.post("/v1/files", self._upload),
                web.get("/v1/files", self._list_files),
                web.get("/v1/files/{file_id}", self._file_metadata),
                web.get("/v1/files/{file_id}/content", self._file_content),
                web.delete("/v1/files/{file_id}", self._delete_file),
                web.post("/v1/skills", self._skills_call(self.skills.create)),
                web.get("/v1/skills", self._skills_call(self.skills.list)),
                web.get("/v1/skills/{skill_id}", self._skills_call(self.skills.get)),
                web.delete("/v1/skills/{skill_id}", self._skills_call(self.skills.delete)),
                web.post("/v1/skills/{skill_id}/versions", self._skills_call(self.skills.create_version)),
                web.get("/v1/skills/{skill_id}/versions", self._skills_call(self.skills.list_versions)),
                web.delete(
                    "/v1/skills/{skill_id}/versions/{version}", self._skills_call(self.skills.delete_version)
                ),
                web.route("*", "/{tail:.*}", self._not_found),
            ]
        )
        # A short shutdown timeout: stop() must not wait for slow or long-running responses.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and kill every sandbox process of this emulator."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._registry is not None:
            await self._registry.close()
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root = None
        if self._cleanup is not None:
            self._cleanup.detach()
            self._cleanup = None

    async def __aenter__(self) -> AnthropicEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- public knobs -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> float:
        """The emulator's clock: the wall clock plus whatever ``advance_clock`` added. The prompt
        cache's TTLs and the containers' idle checkpoint and expiry run on it."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Let ``seconds`` pass for the prompt cache and the containers, without waiting (a thread
        whose turns are ten minutes apart, in a test or a benchmark)."""
        self._clock_offset += seconds

    @property
    def containers(self) -> dict[str, Container]:
        return self._registry.containers if self._registry else {}

    @property
    def files(self) -> dict[str, StoredFile]:
        return self._files.files if self._files else {}

    @property
    def container_ttl_s(self) -> float:
        """Rolling lifetime: ``expires_at`` = last use + this (default one hour, as recorded)."""
        return self._container_ttl_s

    @container_ttl_s.setter
    def container_ttl_s(self, value: float) -> None:
        self._container_ttl_s = value
        if self._registry is not None:
            self._registry.ttl_s = value

    @property
    def min_cacheable_tokens(self) -> int:
        return self._cache.min_tokens

    @min_cacheable_tokens.setter
    def min_cacheable_tokens(self, value: int) -> None:
        self._cache.min_tokens = value

    @property
    def container_start_times(self) -> list[float]:
        """Seconds each sandbox process took to start (fork from the warm zygote)."""
        return self._registry.start_times if self._registry else []

    def expire_container(self, container_id: str) -> None:
        """Force expiry: the process is killed and later requests naming the container fail with
        the error selected by ``container_expiry_error``."""
        assert self._registry is not None and self._engine is not None, "emulator not started"
        self._registry.expire(container_id)
        self._engine.paused.drop_container(container_id)

    def fail_next(
        self,
        status: int = 529,
        times: int = 2,
        retry_after: float | str | None = None,
        after_s: float = 0,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` /v1/messages requests fail with ``status`` (429 rate_limit_error,
        500 api_error, 503, 529 overloaded_error ...), with an optional ``retry-after`` header. The
        default of two failures is what the SDK's default ``max_retries=2`` recovers from. With
        ``after_s`` > 0 the failure happens that long into the response: a stream sends its events
        until then and ends with ``event: error``. ``retry_after`` may be a string (an HTTP-date)."""
        self._faults.fail_next(status, times, retry_after, after_s, message)

    def outage(self, status: int = 500, retry_after: float | str | None = None) -> None:
        """Until ``end_outage()``, every /v1/messages request fails with ``status`` (500
        ``api_error``, 529 ``overloaded_error`` ...), whatever it carries: a general outage, as
        opposed to one container being gone (``expire_container``), which fails only the requests
        that name it."""
        self._faults.outage = Failure(status, retry_after, 0.0, None)

    def end_outage(self) -> None:
        self._faults.outage = None

    @property
    def faults(self) -> Faults:
        """The injected failures (a chaos plan hooks in here: chaos.py)."""
        return self._faults

    def cut_next_file_download(self, after_bytes: int, times: int = 1) -> None:
        """Make the next ``times`` ``GET /v1/files/{id}/content`` answers announce the whole file,
        send ``after_bytes`` bytes and drop the connection."""
        assert self._files is not None, "emulator not started"
        self._files.cut_short.extend([after_bytes] * times)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Delay the next ``times`` /v1/messages responses by ``seconds`` before any byte."""
        self._faults.slow_next(seconds, times)

    def reset_cache(self) -> None:
        self._cache.clear()

    def _settings(self) -> RuntimeSettings:
        return RuntimeSettings(
            latency=self.latency,
            server_steps_per_response=self.server_steps_per_response,
            bash_timeout_s=self.bash_timeout_s,
            cell_timeout_s=self.cell_timeout_s,
            ptc_timeout_s=self.ptc_timeout_s,
            ping_interval_s=self.ping_interval_s,
            context_window=self.context_window,
            persist_repl_without_ptc=self.persist_repl_without_ptc,
            tool_start_input=self.tool_start_input,
        )

    # -- plumbing ---------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = new_request_id()
        request[_RID] = rid
        try:
            self._authenticate(request)
            messages.check_version(request.headers.get("anthropic-version"))
            return await handler(request)
        except ApiError as exc:
            return self._error_response(request, exc)

    def _authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        key = request.headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if key != self.api_key:
            raise ApiError(401, "invalid x-api-key")

    def _error_response(self, request: web.Request, exc: ApiError) -> web.Response:
        body = exc.body(request[_RID])
        if self.validate_responses:
            self._validator.error(f"{request.method} {request.path} error", body)
        return web.Response(
            status=exc.status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"request-id": request[_RID], **exc.headers},
        )

    def _json(self, request: web.Request, body: Any, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"request-id": request[_RID]},
        )

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        raise ApiError(404, "Not found")

    async def _read_json(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            raise ApiError(413)
        raw = await request.read()
        if len(raw) > MAX_REQUEST_BYTES:
            raise ApiError(413)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise invalid_request(f"There was an error parsing the body of your request: {exc}") from None

    # -- /v1/messages -----------------------------------------------------------------------------
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        assert self._registry is not None and self._engine is not None
        record = RequestRecord(
            request_id=request[_RID],
            path=request.path_qs,
            headers=dict(request.headers),
            received_at=time.time(),
        )
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        container: Container | None = None
        try:
            delay = self._faults.take_delay()
            if delay:
                await asyncio.sleep(delay)
            failure = self._faults.take_failure()
            if failure is not None and failure.after_s <= 0:
                with contextlib.suppress(ApiError):  # kept for the record: tests look at what failed
                    body = await self._read_json(request)
                    record.body = body if isinstance(body, dict) else None
                raise failure.error()
            body = await self._read_json(request)
            record.body = body if isinstance(body, dict) else None
            record.stream = isinstance(body, dict) and body.get("stream") is True
            parsed = messages.parse(
                body, api_version=request.headers["anthropic-version"], file_exists=self._file_exists
            )
            assert self._visuals is not None
            await self._visuals.check(parsed, self.context_window)
            container = self._resolve_container(parsed)
            if container is not None:
                record.container_id = container.id
                self._per_container[container.id] += 1
                self.max_in_flight_per_container[container.id] = max(
                    self.max_in_flight_per_container.get(container.id, 0), self._per_container[container.id]
                )
            if parsed.container_skills is not None:
                parsed.loaded_skills = self.skills.resolve(
                    parsed.container_skills, betas_of(request.headers), parsed.code_tool_type is not None
                )
                if container is not None:
                    done = self.skills.copied.setdefault(container.id, set())
                    await skills.copy_into(container.root, parsed.loaded_skills, done)
            input_files = await self._materialise(parsed, container)
            try:
                prompt = self._cache.account(parsed, self.api_key, limit=self.context_window, now=self.now())
            except PromptTooLong as exc:
                raise invalid_request(str(exc)) from None
            turn = await self._engine.prepare(parsed, container, input_files)
            record.continuation = turn.resume is not None
            if parsed.stream:
                return await self._stream(request, record, parsed, container, turn, prompt, failure)
            return await self._respond_json(request, record, parsed, container, turn, prompt, failure)
        except ApiError as exc:
            record.status = exc.status
            record.error = exc.body(record.request_id)
            if record.first_byte_at is None:
                record.first_byte_at = time.time()
            raise
        finally:
            self.in_flight -= 1
            if container is not None:
                self._per_container[container.id] -= 1
            record.done_at = time.time()
            if log.isEnabledFor(logging.INFO):
                outcome = record.response["stop_reason"] if record.response else record.error
                log.info(
                    "POST %s%s -> %s %s (%.2fs)",
                    record.path,
                    " stream" if record.stream else "",
                    record.status,
                    outcome,
                    record.done_at - record.received_at,
                )

    def _skills_call(self, method: Callable[[web.Request], Any]) -> Handler:
        """A Skills API endpoint: the store's answer as JSON, its ApiErrors as error bodies."""

        async def handler(request: web.Request) -> web.StreamResponse:
            result = method(request)
            body = await result if inspect.isawaitable(result) else result
            if self.validate_responses:
                self._validator.skills_body(f"{request.method} {request.path}", body)
            return self._json(request, body)

        return handler

    def _file_exists(self, file_id: str) -> bool:
        return self._files is not None and file_id in self._files.files

    def _resolve_container(self, parsed: ParsedRequest) -> Container | None:
        assert self._registry is not None
        if parsed.container_param is not None:
            return self._registry.resolve(parsed.container_param, self.container_expiry_error)
        if parsed.code_tool_type is not None:
            return self._registry.create()
        return None

    async def _materialise(self, parsed: ParsedRequest, container: Container | None) -> list[str]:
        """container_upload files of the current turn appear in $INPUT_DIR (reference §2.2)."""
        if container is None or not parsed.current_turn_uploads:
            return []
        assert self._files is not None
        await container.ensure_dirs()
        names = []
        for fid in parsed.current_turn_uploads:
            stored = self._files.get(fid)
            target = container.input_dir / stored.filename
            # Re-sent (a retry, or the same file attached again): copy only if it is not there as is.
            present = await asyncio.to_thread(_size_if_file, target)
            if container.materialized.get(fid) != stored.filename or present != stored.size_bytes:
                container.materialized[fid] = await self._files.copy_into(fid, container.input_dir)
            names.append(stored.filename)
        return names

    async def _respond_json(
        self,
        request: web.Request,
        record: RequestRecord,
        parsed: ParsedRequest,
        container: Container | None,
        turn: Turn,
        prompt: PromptUsage,
        failure: Failure | None,
    ) -> web.StreamResponse:
        assert self._engine is not None
        run = self._engine.run(turn, parsed=parsed, container=container, sink=JsonSink(), prompt=prompt)
        if failure is not None:
            task = asyncio.ensure_future(run)
            done, _ = await asyncio.wait({task}, timeout=failure.after_s)
            if not done:
                task.cancel()
            else:  # finished early: the failure still lands at after_s
                await asyncio.sleep(max(0.0, failure.after_s - (time.time() - record.received_at)))
            await asyncio.gather(task, return_exceptions=True)
            if failure.reset:
                _drop_connection(request)
            raise failure.error()
        try:
            message = await run
        except ApiError:
            raise
        except ResponseCut as cut:
            if cut.mode == "reset":
                _drop_connection(request)
            raise ApiError(cut.status) from None
        except Exception as exc:
            log.exception("anthropic emulator: generation failed")
            raise ApiError(500, f"Internal server error (emulator: {exc!r})") from exc
        record.response = message
        record.status = 200
        record.first_byte_at = time.time()
        if self.validate_responses:
            self._validator.message(f"response to {record.request_id}", message)
        return self._json(request, message)

    async def _stream(
        self,
        request: web.Request,
        record: RequestRecord,
        parsed: ParsedRequest,
        container: Container | None,
        turn: Turn,
        prompt: PromptUsage,
        failure: Failure | None,
    ) -> web.StreamResponse:
        assert self._engine is not None
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "request-id": record.request_id,
            }
        )
        await response.prepare(request)
        record.status = 200

        def first_byte(ts: float) -> None:
            record.first_byte_at = ts

        def first_token(ts: float) -> None:
            record.first_token_at = ts

        sink = SseSink(
            response,
            keep_events=self.validate_responses or self.record_events,
            on_first_byte=first_byte,
            on_first_token=first_token,
        )
        if failure is not None:
            sink.hold_end = True  # the injected failure ends the stream, never message_stop
        task = asyncio.ensure_future(
            self._engine.run(turn, parsed=parsed, container=container, sink=sink, prompt=prompt)
        )
        error: ApiError | None = None
        try:
            if failure is not None:
                await asyncio.wait({task}, timeout=failure.after_s)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                if failure.reset:
                    record.error = {"type": "error", "error": {"type": "connection_reset", "message": "cut"}}
                    _drop_connection(request)
                    return response
                error = failure.error()
            else:
                record.response = await task
        except asyncio.CancelledError:
            task.cancel()
            raise
        except ResponseCut as cut:
            if cut.mode == "reset":
                # What was sent stays sent; then the connection ends without the stream's end.
                record.error = {"type": "error", "error": {"type": "connection_reset", "message": "cut"}}
                _drop_connection(request)
                return response
            error = ApiError(cut.status)
        except ConnectionError:  # the client went away mid-stream: nothing left to send
            task.cancel()
            record.error = {
                "type": "error",
                "error": {"type": "client_disconnected", "message": "client went away"},
            }
            return response
        except ApiError as exc:
            error = exc
        except Exception as exc:
            log.exception("anthropic emulator: generation failed mid-stream")
            error = ApiError(500, f"Internal server error (emulator: {exc!r})")
        if error is not None:
            body = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
            record.error = body
            with contextlib.suppress(ConnectionError):
                await sink.error(body)
        if sink.events is not None:
            if self.validate_responses:
                self._validator.stream(f"stream {record.request_id}", sink.events, record.response)
            if self.record_events:
                record.events = sink.events
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        body = await self._read_json(request)
        if isinstance(body, dict):
            body = {**body, "max_tokens": body.get("max_tokens", 1)}
        parsed = messages.parse(
            body, api_version=request.headers["anthropic-version"], file_exists=self._file_exists
        )
        out = {"input_tokens": count_prompt(parsed)}
        if self.validate_responses:
            self._validator.token_count("count_tokens", out)
        return self._json(request, out)

    # -- /v1/models -------------------------------------------------------------------------------
    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            raise invalid_request("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise invalid_request("limit: Input should be between 1 and 1000")
        page = catalog.list_page(self.context_window, limit, q.get("after_id"), q.get("before_id"))
        if self.validate_responses:
            self._validator.model_list("GET /v1/models", page)
        return self._json(request, page)

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        model_id = request.match_info["model_id"]
        catalog.check_model(model_id)
        info = catalog.model_info(model_id, self.context_window)
        if self.validate_responses:
            self._validator.model_info(f"GET /v1/models/{model_id}", info)
        return self._json(request, info)

    # -- /v1/files --------------------------------------------------------------------------------
    def _legacy(self, request: web.Request) -> bool:
        return LEGACY_FILES_BETA in request.headers.get("anthropic-beta", "")

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        assert self._files is not None
        meta = await self._files.upload(request)
        if self.validate_responses:
            self._validator.file_metadata("POST /v1/files", meta, self._legacy(request))
        return self._json(request, meta)

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        assert self._files is not None
        page = self._files.list_page(request)
        if self.validate_responses:
            self._validator.file_list("GET /v1/files", page, self._legacy(request))
        return self._json(request, page)

    async def _file_metadata(self, request: web.Request) -> web.StreamResponse:
        assert self._files is not None
        meta = self._files.retrieve(request)
        if self.validate_responses:
            self._validator.file_metadata("GET /v1/files/{id}", meta, self._legacy(request))
        return self._json(request, meta)

    async def _file_content(self, request: web.Request) -> web.StreamResponse:
        assert self._files is not None
        response = await self._files.content(request)
        response.headers["request-id"] = request[_RID]
        return response

    async def _delete_file(self, request: web.Request) -> web.StreamResponse:
        assert self._files is not None
        out = await self._files.delete(request)
        if self.validate_responses:
            self._validator.deleted_file("DELETE /v1/files/{id}", out)
        return self._json(request, out)
