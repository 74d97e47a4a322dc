"""The emulator's shared core: settings, state, records and the components that act on them.

`SlackEmulator` (server.py) is the public face; the Web API handlers, the person API, Socket Mode and
HTTP delivery all receive this `Core`, so there is exactly one copy of every piece of state per
emulator instance (several emulators can live in one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .constants import (
    APP_ID,
    BOT_USER_ID,
    DEFAULT_APP_TOKEN_SCOPES,
    DEFAULT_BOT_SCOPES,
    DEFAULT_SUBSCRIPTIONS,
)
from .events import EventBus
from .files import FileStore
from .http_delivery import HttpDelivery
from .ids import IdFactory
from .interactivity import Interactions
from .modals import Modals
from .models import CallRecord, DownloadRecord, Envelope, Token
from .rate_limits import RateLimiter
from .side_effects import SpecialMention, Unfurl
from .socket_mode import SocketModeHub
from .state import ChangeNotifier, Workspace

FileRedirect = Literal["slack_host", "foreign_host"] | None


@dataclass
class Settings:
    """Knobs a test may turn at any time (exposed as attributes of `SlackEmulator`)."""

    echo_bot_messages: bool = True
    echo_bot_edits: bool = True
    ack_timeout_s: float = 3.0
    slash_ack_timeout_s: float = 3.0
    # Slack ends a stream about 5 minutes after it started (api_stream.py); None: never.
    stream_expiry_s: float | None = 300.0
    status_expiry_s: float = 120.0
    file_redirect: FileRedirect = None
    http_timeout_s: float = 3.0
    # Real Slack retries failed HTTP deliveries immediately, after 1 min and after 5 min (§2.5).
    http_retry_delays: tuple[float, ...] = (0.0, 0.2, 0.5)
    disconnect_grace_s: float = 1.0
    deliver_twice_every: int | None = None
    # Slack processes an API upload asynchronously: a `slack_file` may name it this long after
    # files.completeUploadExternal (images.py).
    file_processing_s: float = 1.0
    # The app's manifest enables the Home tab (features.app_home.home_tab_enabled); off: views.publish
    # of a home view answers `not_enabled`.
    home_tab_enabled: bool = True
    subscriptions: set[str] = field(default_factory=lambda: set(DEFAULT_SUBSCRIPTIONS))


class Core:
    def __init__(
        self,
        *,
        bot_scopes: set[str] | None,
        data_dir: Path,
        bot_token: str | None,
        app_token: str | None,
        signing_secret: str | None,
    ) -> None:
        self.settings = Settings()
        self.notifier = ChangeNotifier()
        self.ids = IdFactory()
        self.ws = Workspace(self.ids, self.notifier.notify)
        self.limits = RateLimiter()
        self.files = FileStore(data_dir)
        self.calls: list[CallRecord] = []
        self.envelopes: list[Envelope] = []
        self.envelopes_by_id: dict[str, Envelope] = {}
        self.downloads: list[DownloadRecord] = []
        self.foreign_auth_headers: list[str | None] = []
        # Byte counts after which the next file downloads break off (see serve_cut_short).
        self.cut_downloads: deque[int] = deque()
        self.rate_limited_calls = 0
        self.unfurls: list[Unfurl] = []
        self.special_mentions: list[SpecialMention] = []
        self.base_url = "http://127.0.0.1:0/"
        self.alt_file_base = ""
        self.foreign_file_base = ""

        self.bot_token = (
            bot_token or f"xoxb-{self.ids.digits(13)}-{self.ids.digits(13)}-{self.ids.secret(24)}"
        )
        self.app_token = app_token or f"xapp-1-{APP_ID}-{self.ids.digits(13)}-{self.ids.hex(64)}"
        self.signing_secret = signing_secret or self.ids.hex(32)
        scopes = set(DEFAULT_BOT_SCOPES if bot_scopes is None else bot_scopes)
        self.ws.tokens[self.bot_token] = Token(self.bot_token, "bot", scopes, BOT_USER_ID)
        self.ws.tokens[self.app_token] = Token(self.app_token, "app", set(DEFAULT_APP_TOKEN_SCOPES), "")

        self.socket = SocketModeHub(self)
        self.http = HttpDelivery(self)
        self.events = EventBus(self)
        self.interactions = Interactions(self)
        self.modals = Modals(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------ utilities
    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    @staticmethod
    def now() -> float:
        return time.time()

    def notify(self) -> None:
        self.notifier.notify()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background task owned by the emulator (cancelled on stop, never garbage-collected)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """A timer owned by the emulator (cancelled on stop)."""
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    async def wait_until(self, predicate: Callable[[], object], within: float) -> None:
        """Return once `predicate()` is truthy, re-checking on every state change; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            await self.notifier.wait(min(remaining, 0.1))

    def record_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)
        self.envelopes_by_id[envelope.envelope_id] = envelope
        self.notify()

    async def aclose(self) -> None:
        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.http.aclose()
