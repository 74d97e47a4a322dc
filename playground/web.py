"""The page's server side, mounted on the Slack emulator's own aiohttp app.

Routes: `/` (the page), `/playground/static/*`, `/playground/ws` (live state out, a person's actions
in), `/playground/upload` (a file dropped on the composer), `/playground/files/{id}/{name}` (files
in messages, as the Slack client shows and downloads them). Every action goes through the emulator's
person API, so the bot sees exactly the events, files and button presses Slack would send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, WSMsgType, web

from emulators.slack import SlackEmulator
from emulators.slack.constants import BOT_USER_ID
from emulators.slack.constants import GENERAL_CHANNEL_ID as GENERAL
from emulators.slack.person import FileSpec

from .composer import slack_text, slash_command
from .snapshot import BOT_DISPLAY_NAME, PEOPLE, View, can_see, name_the_app, state

log = logging.getLogger("playground")

STATIC = Path(__file__).parent / "static"
# Many stream appends land within a few milliseconds: one page update per this interval at most.
COALESCE_S = 0.05
REGISTERED_COMMANDS = ("/claude",)  # manifest.yaml `features.slash_commands`


@dataclass(frozen=True)
class Upload:
    name: str
    path: Path
    mimetype: str | None


class PlaygroundWeb:
    """The page's routes for one emulator. `backend` and `bot` describe, on every update, which model
    is in use and whether the bot process is up (the page shows both)."""

    def __init__(
        self,
        slack: SlackEmulator,
        uploads_dir: Path,
        *,
        admins: set[str],
        backend: dict[str, Any],
        bot: Callable[[], dict[str, Any]],
    ) -> None:
        self.slack = slack
        self.uploads_dir = uploads_dir
        self.admins = admins
        self.backend = backend
        self.bot = bot
        self._uploads: dict[str, Upload] = {}
        # Actions under way: they finish even if their page goes away (a reload right after Send).
        self._actions: set[asyncio.Task[None]] = set()
        name_the_app(slack)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_static("/playground/static/", STATIC)
        app.router.add_get("/playground/ws", self._socket)
        app.router.add_post("/playground/upload", self._upload)
        app.router.add_get("/playground/files/{file_id}/{name}", self._file)

    # ------------------------------------------------------------------ http
    async def _page(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        record = self.slack.core.ws.files.get(request.match_info["file_id"])
        if record is None or record.deleted or not record.uploaded:
            raise web.HTTPNotFound(text="no such file")
        disposition = "attachment" if "download" in request.query else "inline"
        return web.FileResponse(
            record.path,
            headers={
                "Content-Type": record.mimetype,
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(record.name)}",
            },
        )

    async def _upload(self, request: web.Request) -> web.Response:
        """A file the person attached: kept on disk until the message that carries it is sent."""
        reader = await request.multipart()
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
            raise web.HTTPBadRequest(text="expected one file in the form field 'file'")
        upload_id = uuid.uuid4().hex
        path = self.uploads_dir / upload_id
        size = 0
        with await asyncio.to_thread(path.open, "wb") as out:
            while chunk := await part.read_chunk(1 << 20):
                size += len(chunk)
                await asyncio.to_thread(out.write, chunk)
        mimetype = part.headers.get("Content-Type")
        if mimetype in (None, "", "application/octet-stream"):
            mimetype = None  # the emulator guesses from the name, as Slack does
        self._uploads[upload_id] = Upload(part.filename, path, mimetype)
        return web.json_response({"id": upload_id, "name": part.filename, "size": size})

    # ------------------------------------------------------------- websocket
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        view = View()
        moved = asyncio.Event()
        pusher = asyncio.create_task(self._push(ws, view, moved))
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    command = json.loads(frame.data)
                except json.JSONDecodeError:
                    continue
                if not isinstance(command, dict):
                    continue
                if command.get("op") == "view":
                    self._move(view, command)
                    moved.set()
                    # Opening the app's tabs is an event of its own for the app (app_home_opened).
                    if command.get("tab") == "home":
                        self._run(ws, self.slack.open_home_tab(view.user))
                    elif command.get("channel") == "dm":
                        self._run(ws, self.slack.open_messages_tab(view.user))
                else:
                    self._run(ws, self._act(ws, View(**vars(view)), command))
        finally:
            pusher.cancel()
        return ws

    def _run(self, ws: web.WebSocketResponse, action: Any) -> None:
        """Actions wait on the bot (a slash command waits for its ack): never hold up the socket."""

        async def guarded() -> None:
            try:
                await action
            except (LookupError, PermissionError, ValueError, TimeoutError) as error:
                # LookupError includes a command without its fields (KeyError): the page shows it.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json({"type": "error", "message": str(error)})

        task = asyncio.create_task(guarded())
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    def _move(self, view: View, command: dict[str, Any]) -> None:
        ws = self.slack.core.ws
        user = command.get("user")
        if user in PEOPLE and user != view.user:
            view.user = user
            current = ws.channels.get(view.channel)
            if current is not None and not can_see(current, user):
                # Someone else's DM with the app: the new person goes to their own.
                view.channel = self.slack.dm_channel(user) if current.kind == "im" else GENERAL
                view.thread = None
        channel = command.get("channel")
        if channel == "dm":
            channel = self.slack.dm_channel(view.user)
        if isinstance(channel, str) and channel in ws.channels and can_see(ws.channels[channel], view.user):
            if channel != view.channel:
                view.thread = None
            view.channel = channel
        if "thread" in command:
            thread = command["thread"]
            view.thread = thread if isinstance(thread, str) else None
        if command.get("tab") in ("messages", "home"):
            view.tab = command["tab"]

    async def _act(self, ws: web.WebSocketResponse, view: View, command: dict[str, Any]) -> None:
        op = command.get("op")
        if op == "post":
            await self._post(ws, view, command)
        elif op == "press":
            await self.slack.press_button(
                view.user, view.channel, str(command["ts"]), str(command["action_id"]), command.get("value")
            )
        elif op == "edit":
            text = slack_text(str(command["text"]).strip(), self._handles())
            if text:
                await self.slack.edit_message(view.user, view.channel, str(command["ts"]), text)
        elif op == "delete":
            await self.slack.delete_message(view.user, view.channel, str(command["ts"]))
        elif op == "modal_submit":
            values = command.get("values")
            await self.slack.submit_modal(view.user, values if isinstance(values, dict) else {})
        elif op == "modal_close":
            await self.slack.close_modal(view.user)

    async def _post(self, ws: web.WebSocketResponse, view: View, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        thread = command.get("thread")
        uploads = [self._uploads.pop(u) for u in command.get("uploads") or [] if u in self._uploads]
        slash = slash_command(text)
        if slash is not None and not uploads:
            if thread:
                # Slack's docs: slash commands "cannot … be invoked in message threads" (composer.py).
                raise ValueError(f"{slash.command} cannot be used in a thread: use it in the channel.")
            if slash.command not in REGISTERED_COMMANDS:
                raise ValueError(f"{slash.command} is not a valid command.")
            await self.slack.run_slash_command(view.user, view.channel, slash.command, slash.text)
            return
        if not text and not uploads:
            return
        files: list[FileSpec] = [(u.name, u.path, u.mimetype) for u in uploads]
        text = slack_text(text, self._handles())
        thread_ts = thread if isinstance(thread, str) else None
        try:
            ts = await self.slack.post_message(
                view.user, view.channel, text, thread_ts=thread_ts, files=files or None
            )
        finally:
            for upload in uploads:
                await asyncio.to_thread(upload.path.unlink, missing_ok=True)
        # The page opens the thread of a question it asked (a mention, or anything in the DM with
        # the app), where the answer will be.
        asked = f"<@{BOT_USER_ID}>" in text or self.slack.core.ws.channels[view.channel].kind == "im"
        await ws.send_json({"type": "posted", "ts": ts, "thread": thread_ts, "asks_app": asked})

    def _handles(self) -> dict[str, str]:
        handles = {BOT_DISPLAY_NAME: BOT_USER_ID}
        for user_id in PEOPLE:
            user = self.slack.core.ws.users[user_id]
            handles[user.name.lower()] = user_id
            handles[user.real_name.split()[0].lower()] = user_id
        return handles

    async def _push(self, ws: web.WebSocketResponse, view: View, moved: asyncio.Event) -> None:
        """The page's state whenever anything changed (never twice the same)."""
        notifier = self.slack.core.notifier
        last = ""
        while not ws.closed:
            version = notifier.version
            moved.clear()
            text = json.dumps(state(self.slack, view, self.admins, self.backend, self.bot()))
            if text != last:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    return
                last = text
            if notifier.version == version and not moved.is_set():
                # Every change notifies (the bot process's too, app.py); the second is a safety net.
                changed = asyncio.ensure_future(notifier.wait(1.0))
                jumped = asyncio.ensure_future(moved.wait())
                await asyncio.wait({changed, jumped}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                jumped.cancel()
            await asyncio.sleep(COALESCE_S)
