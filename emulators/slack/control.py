"""`/_emulator/*`: JSON control endpoints for driving a standalone emulator (see README, curl examples).

They expose the person API and the assertion records over HTTP so a developer can run the real bot
against `python -m emulators.slack` and play the human from a shell. Users and channels may be
given by id (`U0123ABCD`, `C0123ABCD`) or by name (`ana`, `general`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .events import MENTION_TWINS
from .models import JSON
from .person import FileSpec

if TYPE_CHECKING:
    from .server import SlackEmulator


def add_routes(app: web.Application, slack: SlackEmulator) -> None:
    routes = web.RouteTableDef()

    async def body_of(request: web.Request) -> JSON:
        if not request.can_read_body:
            return {}
        try:
            value = await request.json()
        except json.JSONDecodeError:
            raise web.HTTPBadRequest(text="body must be JSON") from None
        if not isinstance(value, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return value

    def answer(value: Any, status: int = 200) -> web.Response:
        return web.json_response(
            value, status=status, dumps=lambda v: json.dumps(v, default=str, ensure_ascii=False)
        )

    @routes.get("/_emulator/info")
    async def info(_: web.Request) -> web.Response:
        core = slack.core
        return answer(
            {
                "api_url": slack.api_url,
                "bot_token": slack.bot_token,
                "app_token": slack.app_token,
                "signing_secret": slack.signing_secret,
                "team_id": slack.team_id,
                "bot_user_id": slack.bot_user_id,
                "users": {u.name: u.id for u in core.ws.users.values()},
                "channels": {c.name: c.id for c in core.ws.channels.values()},
                "open_connections": len(slack.open_connections),
            }
        )

    @routes.post("/_emulator/message")
    async def message(request: web.Request) -> web.Response:
        body = await body_of(request)
        files: list[FileSpec] = []
        for spec in body.get("files") or []:
            if "path" in spec:
                content: bytes | Path = Path(spec["path"])
            elif "base64" in spec:
                content = base64.b64decode(spec["base64"])
            else:
                content = str(spec.get("text", "")).encode()
            files.append((spec["name"], content, spec.get("mimetype")))
        twins = body.get("mention_twins", "app_mention_first")
        if twins not in MENTION_TWINS:
            return answer(
                {"ok": False, "error": f"mention_twins must be one of {', '.join(MENTION_TWINS)}"}, 400
            )
        try:
            ts = await slack.post_message(
                body["user"],
                body.get("channel", "general"),
                body.get("text", ""),
                thread_ts=body.get("thread_ts"),
                mention_bot=bool(body.get("mention_bot")),
                files=files or None,
                mention_twins=twins,
            )
        except (KeyError, LookupError, PermissionError, ValueError) as error:
            return answer({"ok": False, "error": str(error)}, 400)
        return answer(
            {
                "ok": True,
                "ts": ts,
                "channel": slack.core.ws.resolve_channel(body.get("channel", "general")).id,
            }
        )

    @routes.post("/_emulator/slash")
    async def slash(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            ack = await slack.run_slash_command(
                body["user"],
                body.get("channel", "general"),
                body.get("command", "/claude"),
                body.get("text", ""),
            )
        except TimeoutError as error:
            return answer({"ok": False, "error": str(error)}, 504)
        return answer({"ok": True, "ack": ack})

    @routes.post("/_emulator/button")
    async def button(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            ack = await slack.press_button(
                body["user"], body["channel"], body["message_ts"], body["action_id"], body.get("value")
            )
        except (LookupError, TimeoutError) as error:
            return answer({"ok": False, "error": str(error)}, 400)
        return answer({"ok": True, "ack": ack})

    @routes.get("/_emulator/thread")
    async def thread(request: web.Request) -> web.Response:
        query = request.query
        view = slack.thread_view(query.get("channel", "general"), query["ts"], query.get("viewer"))
        return answer({"messages": [m.to_json() for m in view]})

    @routes.get("/_emulator/channel")
    async def channel(request: web.Request) -> web.Response:
        query = request.query
        view = slack.channel_view(query.get("channel", "general"), query.get("viewer"))
        return answer({"messages": [m.to_json() for m in view]})

    @routes.get("/_emulator/calls")
    async def calls(request: web.Request) -> web.Response:
        method = request.query.get("method")
        records = slack.calls_to(method) if method else slack.calls
        return answer({"calls": [asdict(c) for c in records]})

    @routes.get("/_emulator/envelopes")
    async def envelopes(_: web.Request) -> web.Response:
        return answer({"envelopes": [asdict(e) for e in slack.envelopes]})

    @routes.post("/_emulator/disconnect")
    async def disconnect(request: web.Request) -> web.Response:
        body = await body_of(request)
        await slack.disconnect(body.get("reason", "refresh_requested"))
        return answer({"ok": True})

    @routes.post("/_emulator/fail")
    async def fail(request: web.Request) -> web.Response:
        body = await body_of(request)
        if body.get("ratelimit"):
            slack.rate_limit_next(body["method"], int(body.get("retry_after", 1)), int(body.get("times", 1)))
        else:
            slack.fail_next(body["method"], body.get("error", "internal_error"), int(body.get("times", 1)))
        return answer({"ok": True})

    @routes.post("/_emulator/user")
    async def user(request: web.Request) -> web.Response:
        body = await body_of(request)
        user_id = slack.add_user(body["name"], team_id=body.get("team_id"), guest=body.get("guest"))
        if body.get("admin") or body.get("owner"):
            slack.make_workspace_admin(user_id, owner=bool(body.get("owner")))
        for channel_ref in body.get("channels") or []:
            slack.add_to_channel(user_id, channel_ref)
        return answer({"ok": True, "id": user_id})

    @routes.post("/_emulator/usergroup")
    async def usergroup(request: web.Request) -> web.Response:
        body = await body_of(request)
        return answer({"ok": True, "id": slack.add_usergroup(body["handle"], body.get("members") or [])})

    @routes.post("/_emulator/home")
    async def open_home(request: web.Request) -> web.Response:
        await slack.open_home_tab((await body_of(request))["user"])
        return answer({"ok": True})

    @routes.get("/_emulator/home")
    async def home(request: web.Request) -> web.Response:
        tab = slack.home_tab(request.query["user"])
        return answer({"home": asdict(tab) if tab is not None else None})

    @routes.get("/_emulator/modal")
    async def modal(request: web.Request) -> web.Response:
        shown = slack.modal(request.query["user"])
        if shown is None:
            return answer({"modal": None})
        fields = ("id", "title", "blocks", "errors", "callback_id", "private_metadata")
        return answer({"modal": {name: getattr(shown, name) for name in fields}})

    @routes.post("/_emulator/modal")
    async def submit_modal(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            ack = await slack.submit_modal(body["user"], body.get("values") or {})
        except (LookupError, ValueError, TimeoutError) as error:
            return answer({"ok": False, "error": str(error)}, status=400)
        return answer({"ok": True, "ack": ack})

    @routes.post("/_emulator/modal/close")
    async def close_modal(request: web.Request) -> web.Response:
        try:
            await slack.close_modal((await body_of(request))["user"])
        except (LookupError, TimeoutError) as error:
            return answer({"ok": False, "error": str(error)}, status=400)
        return answer({"ok": True})

    app.add_routes(routes)
