"""`/api/{method}`: parameter merging, auth, token types, scopes, rate limits, dispatch, call log.

The order of checks follows what Slack answers first: injected failures (a test's `fail_next` /
`rate_limit_next`), `not_authed` / `invalid_auth`, `unknown_method`, `not_allowed_token_type`,
`missing_scope` (with `needed` and `provided`), then tier limits (HTTP 429 + `Retry-After`), then the
method. Errors are HTTP 200 with `{"ok": false, "error": …}`, like Slack.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from . import api_chat, api_conversations, api_directory, api_files, api_misc, api_stream, api_views, modals
from .api_base import ApiCall, ApiError, MethodSpec, Params
from .models import JSON, CallRecord, Token

if TYPE_CHECKING:
    from .core import Core

METHODS: dict[str, MethodSpec] = {
    **api_misc.METHODS,
    **api_chat.METHODS,
    **api_stream.METHODS,
    **api_conversations.METHODS,
    **api_files.METHODS,
    **api_views.METHODS,
    **api_directory.METHODS,
    **modals.METHODS,
}


async def merge_params(request: web.Request) -> JSON:
    """Query string, then form or JSON body on top (the SDK uses each for different methods)."""
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    content_type = request.content_type
    if content_type == "application/json":
        raw = await request.text()
        if raw.strip():
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                raise ApiError("invalid_json") from None
            if not isinstance(body, dict):
                raise ApiError("invalid_json")
            params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _scope_headers(token: Token | None, accepted: tuple[str, ...]) -> dict[str, str]:
    if token is None or token.kind == "app":
        return {}
    return {"x-oauth-scopes": ",".join(sorted(token.scopes)), "x-accepted-oauth-scopes": ",".join(accepted)}


class WebApi:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def handle(self, request: web.Request) -> web.Response:
        core = self.core
        method = request.match_info["method"]
        record = CallRecord(
            method=method, params={}, token_kind=None, at=core.now(), http_method=request.method
        )
        headers: dict[str, str] = {}
        token: Token | None = None
        accepted: tuple[str, ...] = ()
        try:
            params = await merge_params(request)
            token_value = _bearer(request) or params.get("token")
            record.params = {k: v for k, v in params.items() if k != "token"}
            token = core.ws.tokens.get(str(token_value)) if token_value else None
            record.token_kind = token.kind if token else None
            injection = core.limits.take_injection(method)
            if injection is not None and injection.retry_after is not None:
                raise _RateLimited(injection.retry_after)
            if injection is not None and injection.error is not None:
                raise ApiError(injection.error, status=injection.status)
            if token_value is None:
                raise ApiError("not_authed")
            if token is None or token.revoked:
                raise ApiError("invalid_auth")
            spec = METHODS.get(method)
            if spec is None:
                raise ApiError("unknown_method", req_method=method)
            if token.kind not in spec.token_kinds:
                raise ApiError("not_allowed_token_type")
            wrapped = Params(params)
            accepted = spec.scopes(core, wrapped) if callable(spec.scopes) else spec.scopes
            if accepted and not token.scopes.intersection(accepted):
                raise ApiError(
                    "missing_scope", needed=",".join(accepted), provided=",".join(sorted(token.scopes))
                )
            channel = wrapped.text(spec.channel_param) if spec.channel_param else None
            if (wait := core.limits.check(method, channel)) is not None:
                raise _RateLimited(wait)
            call = ApiCall(method, wrapped, token, request.method)
            body = await spec.handler(core, call)
            headers.update(call.response_headers)
            status = 200
        except _RateLimited as limited:
            core.rate_limited_calls += 1
            body, status = {"ok": False, "error": "ratelimited"}, 429
            headers["Retry-After"] = str(limited.retry_after)
        except ApiError as error:
            body, status = {"ok": False, "error": error.error, **error.extra}, error.status
        headers.update(_scope_headers(token, accepted))
        record.http_status, record.ok, record.error = status, bool(body.get("ok")), body.get("error")
        record.response = body
        core.calls.append(record)
        core.notify()
        return web.Response(
            status=status,
            text=json.dumps(body, ensure_ascii=False),
            headers=headers,
            content_type="application/json",
        )


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
