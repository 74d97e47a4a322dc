"""Socket Mode (§1.2, §10.2): tickets, `hello`, envelopes, acks, redelivery, disconnect drills.

Slack pushes each envelope to exactly one of the app's open connections (up to 10). The app acks with
`{"envelope_id": …}` (plus `payload` where accepted); an unacked `events_api` envelope comes back after
the ack deadline as a new envelope with `retry_attempt + 1` and `retry_reason: "timeout"`, up to three
retries. The Python SDK acks on whichever connection is current, so acks are accepted on any connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .constants import APP_ID, MAX_EVENT_RETRIES, MAX_SOCKET_CONNECTIONS
from .models import JSON, ConnectionRecord, Envelope
from .payloads import json_dumps

if TYPE_CHECKING:
    from .core import Core

DEBUG_HOST = "applink-emulator-0"


class SocketModeHub:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.tickets: set[str] = set()
        self.connections: list[ConnectionRecord] = []
        self.unrecognized_frames: list[str] = []
        self._open: dict[str, tuple[ConnectionRecord, web.WebSocketResponse]] = {}
        self._accepting: set[str] = set()
        self._pending: deque[Envelope] = deque()
        self._round_robin = 0
        # One frame at a time, across every sender (see `send`).
        self._sending = asyncio.Lock()

    # --------------------------------------------------------------- status
    @property
    def open_connections(self) -> list[ConnectionRecord]:
        return [record for record, _ in self._open.values()]

    @property
    def pending(self) -> list[Envelope]:
        return list(self._pending)

    def issue_url(self) -> str:
        """The `url` of apps.connections.open: `ws://…/link/?ticket=…&app_id=…` (fixture uses wss)."""
        ticket = self.core.ids.uuid()
        self.tickets.add(ticket)
        ws_base = "ws" + self.core.base_url.removeprefix("http")
        return f"{ws_base}link/?ticket={ticket}&app_id={APP_ID}"

    # ------------------------------------------------------------ websocket
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid ticket")
        # autoping=True answers the SDK's `sdk-ping-pong:<ts>` pings with matching pongs (§10.2 step 5).
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        core = self.core
        record = ConnectionRecord(id=f"conn-{len(self.connections) + 1}", ticket=ticket, opened_at=core.now())
        self.connections.append(record)
        if len(self._open) >= MAX_SOCKET_CONNECTIONS:
            record.disconnect_reason = "too_many_websockets"
            frame: JSON = {
                "type": "disconnect",
                "reason": "too_many_websockets",
                "num_connections": len(self._open) + 1,
                "debug_info": {"host": DEBUG_HOST},
                "connection_info": {"app_id": APP_ID},
            }
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json_dumps(frame))
                await ws.close()
            record.closed_at = core.now()
            core.notify()
            return ws
        self._open[record.id] = (record, ws)
        self._accepting.add(record.id)
        core.notify()
        try:
            hello: JSON = {
                "type": "hello",
                "num_connections": len(self._open),
                "debug_info": {"host": DEBUG_HOST, "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
            await ws.send_str(json_dumps(hello))
            await self._flush_pending()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(record, str(message.data))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._open.pop(record.id, None)
            self._accepting.discard(record.id)
            record.closed_at = core.now()
            core.notify()
        return ws

    def _on_text(self, record: ConnectionRecord, data: str) -> None:
        try:
            body = json.loads(data)
        except json.JSONDecodeError:
            body = None
        envelope = (
            self.core.envelopes_by_id.get(str(body.get("envelope_id"))) if isinstance(body, dict) else None
        )
        if envelope is None or not isinstance(body, dict):
            self.unrecognized_frames.append(data)
            return
        record.acks_received += 1
        if envelope.acked_at is None:
            envelope.acked_at = self.core.now()
            envelope.ack_connection_id = record.id
            payload = body.get("payload")
            envelope.ack_payload = payload if isinstance(payload, dict) else None
            self.core.interactions.on_ack(envelope)
        else:
            envelope.extra_acks += 1
        self.core.notify()

    # -------------------------------------------------------------- sending
    def _pick(self) -> tuple[ConnectionRecord, web.WebSocketResponse] | None:
        ready = [cid for cid in self._open if cid in self._accepting and not self._open[cid][1].closed]
        if not ready:
            return None
        chosen = ready[self._round_robin % len(ready)]
        self._round_robin += 1
        return self._open[chosen]

    async def send(self, envelope: Envelope) -> None:
        """Push to one open connection (round-robin), or queue until one connects."""
        # A write to the socket does not suspend, so a burst of concurrent sends (200 mentions at
        # once are 200 tasks) would all write in one turn of this event loop, and every
        # acknowledgement arriving meanwhile would be stamped when the last of them was written: the
        # emulator's own work counted as the app's ack latency. Slack reads acks independently of
        # what it is sending, so senders take turns, one frame each, yielding in between so that
        # the readers run between any two frames.
        async with self._sending:
            await self._send_one(envelope)
            await asyncio.sleep(0)

    async def _send_one(self, envelope: Envelope) -> None:
        target = self._pick()
        if target is None:
            self._pending.append(envelope)
            self.core.notify()
            return
        record, ws = target
        envelope.sent_at = self.core.now()
        envelope.connection_id = record.id
        try:
            await ws.send_str(json_dumps(envelope.frame()))
        except (ConnectionError, RuntimeError):
            envelope.sent_at = None
            envelope.connection_id = None
            self._pending.append(envelope)
            self.core.notify()
            return
        record.frames_sent += 1
        if envelope.type == "events_api":
            self.core.call_later(self.core.settings.ack_timeout_s, lambda: self._check_ack(envelope))
        self.core.notify()

    def _check_ack(self, envelope: Envelope) -> None:
        if envelope.acked or envelope.redelivered_as or envelope.retry_attempt >= MAX_EVENT_RETRIES:
            return
        self.core.spawn(self.core.events.redeliver(envelope, "timeout"))

    async def _flush_pending(self) -> None:
        while self._pending and self._pick() is not None:
            await self.send(self._pending.popleft())

    # ---------------------------------------------------------------- drills
    async def disconnect(self, reason: str, connection_id: str | None = None) -> None:
        """Send `{"type":"disconnect","reason":…}` then close (after the client left, or a grace period)."""
        targets = [(record, ws) for cid, (record, ws) in self._open.items() if connection_id in (None, cid)]
        frame: JSON = {"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}}
        for record, ws in targets:
            self._accepting.discard(record.id)
            record.disconnect_reason = reason
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json_dumps(frame))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.core.settings.disconnect_grace_s
        while any(record.is_open for record, _ in targets) and loop.time() < deadline:
            await self.core.notifier.wait(deadline - loop.time())
        for record, ws in targets:
            if record.is_open:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close()

    async def drop(self, connection_id: str) -> None:
        """Close a connection without a `disconnect` frame first (a chaos plan's abrupt close)."""
        target = self._open.get(connection_id)
        if target is None:
            return
        record, ws = target
        self._accepting.discard(record.id)
        record.disconnect_reason = "closed"
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close(code=1011, message=b"chaos")

    async def close_all(self) -> None:
        for _, ws in list(self._open.values()):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=1001, message=b"server shutdown")
