"""`SlackEmulator`: the public, in-process face of the emulator (servers + person API + assertions).

One instance = one workspace with one installed app, served on 127.0.0.1 (a free port by default) plus
two extra file hosts used by the redirect drills. Instances are independent: several can run in one
process, each with its own ports, tokens, state and temp dir.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from . import control
from .constants import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_HUMANS,
    GENERAL_CHANNEL_ID,
    OTHER_BOT_ID,
    OTHER_BOT_USER_ID,
    RANDOM_CHANNEL_ID,
    TEAM_ID,
)
from .core import Core, FileRedirect
from .directory import Directory
from .events import MentionTwins
from .files import handle_file, handle_presigned, handle_thumb, handle_upload
from .models import (
    JSON,
    CallRecord,
    ConnectionRecord,
    DownloadRecord,
    Envelope,
    GuestKind,
    ResponseUrlPost,
    StatusEntry,
    Token,
)
from .payloads import message_json
from .person import FileSpec, People
from .rate_limits import POST_MESSAGE_BURST, TIER_BURST_MINUTES
from .side_effects import SpecialMention, Unfurl
from .view import ViewMessage, channel_view, thread_view
from .web_api import WebApi

T = TypeVar("T")


def _bind(host: str, port: int, family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


class SlackEmulator(Directory):
    """A Slack workspace on localhost for tests, benchmarks and local development.

    >>> async with SlackEmulator() as slack:
    ...     ts = await slack.post_message(slack.ana, slack.general, "hi", mention_bot=True)
    ...     await slack.wait_for(lambda: len(slack.thread_view(slack.general, ts)) > 1)
    """

    def __init__(
        self,
        bot_scopes: Iterable[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mount: Callable[[web.Application], None] | None = None,
        bot_token: str | None = None,
        app_token: str | None = None,
        signing_secret: str | None = None,
        post_burst: int = POST_MESSAGE_BURST,
        tier_burst: float = TIER_BURST_MINUTES,
    ) -> None:
        """`mount` adds routes of its own to the main app before it serves (the playground's page)."""
        self._mount = mount
        self._tmp = tempfile.TemporaryDirectory(prefix="slack-emulator-")
        self._core = Core(
            bot_scopes=set(bot_scopes) if bot_scopes is not None else None,
            data_dir=Path(self._tmp.name),
            bot_token=bot_token,
            app_token=app_token,
            signing_secret=signing_secret,
        )
        # Slack's limits, when enforced: the bursts it tolerates are parameters (rate_limits.py).
        self._core.limits.post_burst = post_burst
        self._core.limits.tier_burst = tier_burst
        self._people = People(self._core)
        self._host = host
        self._port = port
        self._runners: list[web.AppRunner] = []
        self._started = False

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> SlackEmulator:
        if self._started:
            return self
        core = self._core
        primary = web.Application(client_max_size=32 * 1024 * 1024)
        api = WebApi(core)

        async def files_primary(request: web.Request) -> web.StreamResponse:
            return await handle_file(core, request, "primary")

        async def files_alt(request: web.Request) -> web.StreamResponse:
            return await handle_file(core, request, "slack_alt")

        async def thumbs(request: web.Request) -> web.StreamResponse:
            return await handle_thumb(core, request)

        async def upload(request: web.Request) -> web.Response:
            return await handle_upload(core, request)

        async def presigned(request: web.Request) -> web.StreamResponse:
            return await handle_presigned(core, request)

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        primary.router.add_route("*", "/api/{method}", api.handle)
        primary.router.add_get("/link/", core.socket.handle)
        primary.router.add_get("/link", core.socket.handle)
        primary.router.add_post("/upload/v1/{ticket}", upload)
        primary.router.add_get("/files-pri/{team_file}/{name}", files_primary)
        primary.router.add_get("/files-pri/{team_file}/download/{name}", files_primary)
        primary.router.add_get("/files-tmb/{team_file}/{name}", thumbs)
        primary.router.add_post("/commands/{team}/{url_id}/{token}", core.interactions.handle)
        primary.router.add_post("/actions/{team}/{url_id}/{token}", core.interactions.handle)
        primary.router.add_get("/health", health)
        control.add_routes(primary, self)
        if self._mount is not None:
            self._mount(primary)

        alt = web.Application()
        alt.router.add_get("/files-pri/{team_file}/{name}", files_alt)
        alt.router.add_get("/files-pri/{team_file}/download/{name}", files_alt)

        foreign = web.Application()
        foreign.router.add_get("/presigned/{file_id}/{name}", presigned)

        main_sock = _bind(self._host, self._port)
        alt_sock = _bind("127.0.0.1", 0)
        foreign_sock = _bind("127.0.0.1", 0)
        foreign_port = foreign_sock.getsockname()[1]
        sockets: list[tuple[web.Application, list[socket.socket]]] = [
            (primary, [main_sock]),
            (alt, [alt_sock]),
            (foreign, [foreign_sock, *self._ipv6_twin(foreign_port)]),
        ]
        for app, socks in sockets:
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
            await runner.setup()
            for sock in socks:
                await web.SockSite(runner, sock).start()
            self._runners.append(runner)
        self._port = main_sock.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        core.base_url = f"http://{host}:{self._port}/"
        core.alt_file_base = f"http://127.0.0.1:{alt_sock.getsockname()[1]}/"
        # A different host *name* for the same machine: clients treat it as a foreign origin.
        core.foreign_file_base = f"http://localhost:{foreign_port}/"
        self._started = True
        return self

    @staticmethod
    def _ipv6_twin(port: int) -> list[socket.socket]:
        """Also listen on ::1 where it exists, in case `localhost` resolves to IPv6 first."""
        try:
            return [_bind("::1", port, socket.AF_INET6)]
        except OSError:
            return []

    async def stop(self) -> None:
        if not self._started:
            return
        await self._core.socket.close_all()
        await self._core.aclose()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        self._started = False
        self._tmp.cleanup()

    async def __aenter__(self) -> SlackEmulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------- identity
    @property
    def core(self) -> Core:
        """Internals, for advanced drills; prefer the methods below."""
        return self._core

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def api_url(self) -> str:
        """The bot's `SLACK_API_URL` (`http://127.0.0.1:PORT/api/`)."""
        return self._core.api_url

    @property
    def bot_token(self) -> str:
        return self._core.bot_token

    @property
    def app_token(self) -> str:
        return self._core.app_token

    @property
    def signing_secret(self) -> str:
        return self._core.signing_secret

    team_id = TEAM_ID
    bot_user_id = BOT_USER_ID
    bot_id = BOT_ID
    app_id = APP_ID
    general = GENERAL_CHANNEL_ID  # public, bot is a member
    random = RANDOM_CHANNEL_ID  # public, bot is NOT a member
    other_bot_user_id = OTHER_BOT_USER_ID  # another app's bot (its messages are not self-ignored)
    other_bot_id = OTHER_BOT_ID
    ana = DEFAULT_HUMANS[0][0]  # "U0123ABCD", like the fixtures
    ben = DEFAULT_HUMANS[1][0]
    chloe = DEFAULT_HUMANS[2][0]
    dev = DEFAULT_HUMANS[3][0]

    def user_id(self, name: str) -> str:
        return self._core.ws.resolve_user(name).id

    # ------------------------------------------------------------------ knobs
    @property
    def echo_bot_messages(self) -> bool:
        """Send the app a `message` event for each of its own posts (Slack does; default True)."""
        return self._core.settings.echo_bot_messages

    @echo_bot_messages.setter
    def echo_bot_messages(self, value: bool) -> None:
        self._core.settings.echo_bot_messages = value

    @property
    def echo_bot_edits(self) -> bool:
        """Send `message_changed` / `message_deleted` for the app's own chat.update / chat.delete."""
        return self._core.settings.echo_bot_edits

    @echo_bot_edits.setter
    def echo_bot_edits(self, value: bool) -> None:
        self._core.settings.echo_bot_edits = value

    @property
    def ack_timeout_s(self) -> float:
        """Socket Mode: redeliver an unacked events_api envelope after this many seconds (default 3)."""
        return self._core.settings.ack_timeout_s

    @ack_timeout_s.setter
    def ack_timeout_s(self, value: float) -> None:
        self._core.settings.ack_timeout_s = value

    @property
    def slash_ack_timeout_s(self) -> float:
        return self._core.settings.slash_ack_timeout_s

    @slash_ack_timeout_s.setter
    def slash_ack_timeout_s(self, value: float) -> None:
        self._core.settings.slash_ack_timeout_s = value

    @property
    def stream_expiry_s(self) -> float | None:
        """Streams end this long after they started, appends or not (default 300, as reported; None = never)."""
        return self._core.settings.stream_expiry_s

    @stream_expiry_s.setter
    def stream_expiry_s(self, value: float | None) -> None:
        self._core.settings.stream_expiry_s = value

    @property
    def status_expiry_s(self) -> float:
        return self._core.settings.status_expiry_s

    @status_expiry_s.setter
    def status_expiry_s(self, value: float) -> None:
        self._core.settings.status_expiry_s = value

    @property
    def file_redirect(self) -> FileRedirect:
        """None | "slack_host" (302 to another Slack origin) | "foreign_host" (302 to a presigned CDN)."""
        return self._core.settings.file_redirect

    @file_redirect.setter
    def file_redirect(self, value: FileRedirect) -> None:
        if value not in (None, "slack_host", "foreign_host"):
            raise ValueError(f"file_redirect must be None, 'slack_host' or 'foreign_host', not {value!r}")
        self._core.settings.file_redirect = value

    @property
    def enforce_rate_tiers(self) -> bool:
        return self._core.limits.enforce

    @enforce_rate_tiers.setter
    def enforce_rate_tiers(self, value: bool) -> None:
        self._core.limits.enforce = value

    @property
    def post_burst(self) -> int:
        """`chat.postMessage` calls a channel takes at once before 1 per second (rate_limits.py)."""
        return self._core.limits.post_burst

    @post_burst.setter
    def post_burst(self, value: int) -> None:
        self._core.limits.post_burst = value

    @property
    def tier_burst(self) -> float:
        """A tiered method's burst, in minutes of its tier's rate (rate_limits.py)."""
        return self._core.limits.tier_burst

    @tier_burst.setter
    def tier_burst(self, value: float) -> None:
        self._core.limits.tier_burst = value

    @property
    def http_retry_delays(self) -> tuple[float, ...]:
        return self._core.settings.http_retry_delays

    @http_retry_delays.setter
    def http_retry_delays(self, value: Sequence[float]) -> None:
        self._core.settings.http_retry_delays = tuple(value)

    @property
    def http_timeout_s(self) -> float:
        return self._core.settings.http_timeout_s

    @http_timeout_s.setter
    def http_timeout_s(self, value: float) -> None:
        self._core.settings.http_timeout_s = value

    @property
    def disconnect_grace_s(self) -> float:
        """How long `disconnect()` waits for the client to leave before closing the socket itself."""
        return self._core.settings.disconnect_grace_s

    @disconnect_grace_s.setter
    def disconnect_grace_s(self, value: float) -> None:
        self._core.settings.disconnect_grace_s = value

    @property
    def subscriptions(self) -> set[str]:
        """The app's bot_events (mutable set): add "file_shared" or "reaction_added" to get those."""
        return self._core.settings.subscriptions

    # ------------------------------------------------------------- workspace
    def add_user(
        self,
        name: str,
        real_name: str | None = None,
        *,
        is_bot: bool = False,
        team_id: str | None = None,
        guest: GuestKind | None = None,
    ) -> str:
        """A new user; with `team_id`, a Slack Connect user from another organisation (their messages
        carry `team`/`user_team`/`source_team` = that team, and streams to them must name it); with
        `guest` ("multi" | "single"), a guest account, in no channel until `add_to_channel`."""
        return self._core.ws.add_user(name, real_name, is_bot=is_bot, team_id=team_id, guest=guest).id

    def add_channel(
        self, name: str, private: bool = False, bot_member: bool = True, members: Iterable[str] | None = None
    ) -> str:
        people = list(members) if members is not None else [uid for uid, _, _ in DEFAULT_HUMANS]
        if bot_member:
            people.append(BOT_USER_ID)
        return self._core.ws.add_channel(name, "private" if private else "public", people).id

    def dm_channel(self, user: str) -> str:
        """The im between `user` and the bot (`D…`), created on first use."""
        return self._core.ws.dm(self.user_id(user)).id

    def mpim_channel(self, users: Iterable[str], bot_member: bool = True) -> str:
        ids = [self.user_id(u) for u in users] + ([BOT_USER_ID] if bot_member else [])
        return self._core.ws.mpim(ids).id

    def remove_bot_from(self, channel: str) -> None:
        conversation = self._core.ws.resolve_channel(channel)
        if BOT_USER_ID in conversation.members:
            conversation.members.remove(BOT_USER_ID)
            self._core.notify()

    def add_bot_to(self, channel: str) -> None:
        conversation = self._core.ws.resolve_channel(channel)
        if BOT_USER_ID not in conversation.members:
            conversation.members.append(BOT_USER_ID)
            self._core.notify()

    def archive_channel(self, channel: str) -> None:
        self._core.ws.resolve_channel(channel).is_archived = True
        self._core.notify()

    def set_scopes(self, token: str, scopes: Iterable[str]) -> None:
        self._token(token).scopes = set(scopes)

    def revoke(self, token: str) -> None:
        self._token(token).revoked = True

    def add_user_token(self, user: str, scopes: Iterable[str]) -> str:
        """A user token (`xoxp-`) acting as `user`."""
        value = f"xoxp-{self._core.ids.digits(13)}-{self._core.ids.digits(13)}-{self._core.ids.secret(32)}"
        self._core.ws.tokens[value] = Token(value, "user", set(scopes), self.user_id(user))
        return value

    def _token(self, value: str) -> Token:
        try:
            return self._core.ws.tokens[value]
        except KeyError:
            raise KeyError("unknown token") from None

    # ------------------------------------------------------ failure injection
    def fail_next(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}`."""
        self._core.limits.fail_next(method, error, times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with `Retry-After: retry_after`."""
        self._core.limits.rate_limit_next(method, retry_after, times)

    def cut_next_download(self, after_bytes: int, times: int = 1) -> None:
        """The next `times` file downloads announce the whole file, send `after_bytes` bytes and drop
        the connection."""
        self._core.cut_downloads.extend([after_bytes] * times)

    @property
    def rate_limited_calls(self) -> int:
        return self._core.rate_limited_calls

    # ---------------------------------------------------------------- records
    @property
    def calls(self) -> list[CallRecord]:
        """Every Web API call, in order (method, merged params, token kind, time, status, ok/error)."""
        return self._core.calls

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[CallRecord]:
        return [c for c in self._core.calls if c.method == method and (ok is None or c.ok == ok)]

    @property
    def envelopes(self) -> list[Envelope]:
        """Every delivery attempt (Socket Mode or HTTP) with sent/ack times, connection and attempt."""
        return self._core.envelopes

    def events(self, event_type: str | None = None) -> list[Envelope]:
        """First deliveries of events_api envelopes (optionally of one `type` or `type/subtype`)."""
        return [
            e
            for e in self._core.envelopes
            if e.type == "events_api"
            and e.retry_attempt == 0
            and (
                event_type is None
                or e.event_type == event_type
                or (e.event_type or "").split("/")[0] == event_type
            )
        ]

    def ack_latencies(self, kind: str | None = "events_api") -> list[float]:
        """Seconds from send to ack of every acked delivery (of one envelope type, or all with None)."""
        return [
            e.ack_latency
            for e in self._core.envelopes
            if e.ack_latency is not None and (kind is None or e.type == kind)
        ]

    @property
    def connections(self) -> list[ConnectionRecord]:
        return self._core.socket.connections

    @property
    def open_connections(self) -> list[ConnectionRecord]:
        return self._core.socket.open_connections

    @property
    def pending_envelopes(self) -> list[Envelope]:
        """Envelopes waiting for a Socket Mode connection."""
        return self._core.socket.pending

    @property
    def foreign_host_auth_headers(self) -> list[str | None]:
        """The Authorization header (or None) of every request the foreign CDN host received."""
        return self._core.foreign_auth_headers

    @property
    def file_downloads(self) -> list[DownloadRecord]:
        return self._core.downloads

    @property
    def unfurls(self) -> list[Unfurl]:
        """Every link Slack's crawler would have fetched to preview it (side_effects.py)."""
        return self._core.unfurls

    @property
    def special_mentions(self) -> list[SpecialMention]:
        """Every `@here` / `@channel` / `@everyone` / user-group mention posted (side_effects.py)."""
        return self._core.special_mentions

    @property
    def responses(self) -> list[ResponseUrlPost]:
        """Every POST received on a response_url (what `respond()` sent)."""
        return self._core.interactions.posts

    # --------------------------------------------------------------- delivery
    def deliver_http(self, url: str) -> None:
        """Deliver events/commands/actions as signed POSTs to `url` (the bot's `/slack/events`)."""
        self._core.http.url = url

    def deliver_socket(self) -> None:
        self._core.http.url = None

    def deliver_twice_every(self, n: int | None) -> None:
        """Every n-th event is delivered again (same event_id, retry_attempt 1); None turns it off."""
        self._core.settings.deliver_twice_every = n

    async def disconnect(self, reason: str = "refresh_requested", connection_id: str | None = None) -> None:
        """Send `disconnect` (refresh_requested | warning | link_disabled) and close the socket(s)."""
        await self._core.socket.disconnect(reason, connection_id)

    def sign(self, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
        """`X-Slack-Request-Timestamp` and `X-Slack-Signature` headers for `body` (§11)."""
        raw = body.encode() if isinstance(body, str) else body
        return self._core.http.signed_headers(raw, timestamp)

    async def verify_url(self, url: str) -> bool:
        """Slack's url_verification handshake against `url`."""
        return await self._core.http.verify_url(url)

    async def send_event(self, event: JSON, channel_id: str | None = None) -> Envelope:
        """Deliver an arbitrary event (wrapped in an event_callback) — for drills the helpers lack."""
        return await self._core.events.emit(event, channel_id)

    # ----------------------------------------------------------------- person
    async def post_message(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        mention_bot: bool = False,
        files: Sequence[FileSpec] | None = None,
        connect_stubs: bool = False,
        as_bot: bool = False,
        mention_twins: MentionTwins = "app_mention_first",
    ) -> str:
        """Post as a person (or another app's bot with `as_bot`); returns the message ts.
        `mention_twins`: how the events of a mention arrive (events.MentionTwins, README "Events")."""
        return await self._people.post_message(
            user,
            channel,
            text,
            thread_ts=thread_ts,
            mention_bot=mention_bot,
            files=files,
            connect_stubs=connect_stubs,
            as_bot=as_bot,
            mention_twins=mention_twins,
        )

    async def edit_message(self, user: str, channel: str, ts: str, text: str) -> None:
        await self._people.edit_message(user, channel, ts, text)

    async def delete_message(self, user: str, channel: str, ts: str) -> None:
        await self._people.delete_message(user, channel, ts)

    async def add_reaction(self, user: str, channel: str, ts: str, name: str) -> None:
        await self._people.add_reaction(user, channel, ts, name)

    async def run_slash_command(
        self, user: str, channel: str, command: str = "/claude", text: str = ""
    ) -> JSON:
        """Run a command; returns the ack's payload ({} for an empty ack). TimeoutError if not acked."""
        return await self._core.interactions.run_slash_command(user, channel, command, text)

    async def press_button(
        self, user: str, channel: str, message_ts: str, action_id: str, value: str | None = None
    ) -> JSON:
        """Click the element with `action_id` in that message; returns the ack payload."""
        return await self._core.interactions.press_button(user, channel, message_ts, action_id, value)

    async def press_native_stop(self, user: str, channel: str, thread_ts: str) -> list[str]:
        """Slack's own stop button on the bot's agent session in that thread (see Person)."""
        return await self._people.press_native_stop(user, channel, thread_ts)

    async def open_messages_tab(self, user: str) -> None:
        await self._people.open_messages_tab(user)

    async def start_assistant_thread(self, user: str, context_channel: str | None = None) -> str:
        return await self._people.start_assistant_thread(user, context_channel)

    # ------------------------------------------------------------------ views
    def thread_view(self, channel: str, thread_ts: str, viewer: str | None = None) -> list[ViewMessage]:
        """The thread as `viewer` sees it (root first); ephemerals only for their recipient."""
        return thread_view(self._core, self._core.ws.resolve_channel(channel).id, thread_ts, viewer)

    def channel_view(self, channel: str, viewer: str | None = None) -> list[ViewMessage]:
        """Top-level messages of a conversation as `viewer` sees them."""
        return channel_view(self._core, self._core.ws.resolve_channel(channel).id, viewer)

    def bot_replies(self, channel: str, thread_ts: str) -> list[ViewMessage]:
        return [
            m for m in self.thread_view(channel, thread_ts) if m.user == BOT_USER_ID and m.ts != thread_ts
        ]

    def message_json(self, channel: str, ts: str) -> JSON | None:
        """A message exactly as conversations.replies would return it."""
        message = self._core.ws.message(self._core.ws.resolve_channel(channel).id, ts)
        return message_json(self._core, message) if message is not None else None

    def status_history(self, channel: str, thread_ts: str) -> list[StatusEntry]:
        return list(self._core.ws.status_history(self._core.ws.resolve_channel(channel).id, thread_ts))

    def current_status(self, channel: str, thread_ts: str) -> str:
        return self._core.ws.current_status(self._core.ws.resolve_channel(channel).id, thread_ts)

    def suggested_prompts(self, channel: str, thread_ts: str | None = None) -> JSON | None:
        """`{"title", "prompts"}` last set with assistant.threads.setSuggestedPrompts, or None."""
        return self._core.ws.suggested_prompts.get((self._core.ws.resolve_channel(channel).id, thread_ts))

    # ------------------------------------------------------------------- sync
    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,
        what: str | None = None,
    ) -> T:
        """Wait until `predicate()` is truthy (re-checked on every state change) and return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    self._timeout_report(what or str(getattr(predicate, "__name__", "condition")), timeout)
                )
            # every change wakes us; the 0.1 s cap also catches conditions outside the emulator
            await self._core.notifier.wait(min(remaining, 0.1))

    def _timeout_report(self, what: str, timeout: float) -> str:
        calls = "\n".join(f"    {c}" for c in self._core.calls[-10:]) or "    (none)"
        envelopes = "\n".join(f"    {e}" for e in self._core.envelopes[-8:]) or "    (none)"
        return (
            f"{what} not met within {timeout:.1f} s\n"
            f"  last Web API calls:\n{calls}\n"
            f"  last envelopes:\n{envelopes}\n"
            f"  open socket connections: {len(self.open_connections)}, "
            f"pending envelopes: {len(self.pending_envelopes)}"
        )
