"""Wiring: settings -> store, Slack client, Claude client, tools, engine, Bolt app, connections."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.assistants.configs import ChannelConfigs
from bot.claude.api import ClaudeApi
from bot.claude.skills_api import SkillsApi
from bot.config import Settings
from bot.connectors.sources import load_sources
from bot.connectors.sql import SqlRunner
from bot.connectors.tools import QueryAudit
from bot.connectors.tools import register as register_connectors
from bot.engine import Engine, TurnRunner, new_owner_id
from bot.governance.spend import SpendTracker
from bot.http_server import GaugeRefresher, Readiness, health_routes, start_site
from bot.model import SkillRef
from bot.skills import all_skills, anthropic_skills, sync
from bot.slack.access import AccessGate, policy_from
from bot.slack.assistant_config import AssistantConfig
from bot.slack.assistant_modal import Choices
from bot.slack.commands import CommandIntake
from bot.slack.controls import Controls
from bot.slack.files_in import SlackFileFetcher
from bot.slack.home_tab import HomeTab
from bot.slack.intake import Intake
from bot.slack.listeners import BotIdentity, register_listeners
from bot.slack.paced_client import PacedWebClient
from bot.slack.people import Accounts, UserGroups
from bot.slack.rate_limits import RateBudget
from bot.slack.slash import SlashCommand
from bot.slack.socket import SocketHandler
from bot.slack.spending_commands import SpendingCommands
from bot.slack.surface import SlackSurface
from bot.store import Store, open_store
from bot.tools import ToolRegistry, register_builtin

log = logging.getLogger(__name__)

# Concurrent connections per Slack host (API calls; file transfers go to their own host in production).
SLACK_CONNECTIONS = 32
# How long start-up waits for the workspace's people to be known (a big workspace goes on after).
WARM_UP_SECONDS = 5.0


def make_slack_client(
    settings: Settings, session: aiohttp.ClientSession, budget: RateBudget
) -> AsyncWebClient:
    """One shared aiohttp session (the SDK opens a new one per call otherwise) and retry handlers; a
    429 is waited out exactly `Retry-After` through the rate budget (paced_client.py), whose method,
    or channel for posts, waits as long (the SDK's own handler is off by default, slack-platform.md §7)."""
    # slack_sdk formats a debug line of every request and response (parameters and body in full)
    # whenever its logger's own level is unset, since it tests `logger.level <= DEBUG` instead of
    # asking whether debug is enabled; measured at a sixth of the CPU of each call. An explicit
    # level, the one the logger has in effect anyway, skips that unless debug logging is on.
    sdk_log = logging.getLogger("slack_sdk.web.async_client")
    sdk_log.setLevel(sdk_log.getEffectiveLevel())
    client = PacedWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, session=session, logger=sdk_log
    )
    client.on_rate_limited = budget.rate_limited
    client.wait_for_retry = budget.wait_for_retry
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    if not any(isinstance(h, AsyncConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncConnectionErrorRetryHandler())
    return client


@dataclass
class BotApp:
    settings: Settings
    store: Store
    session: aiohttp.ClientSession
    client: AsyncWebClient
    claude: ClaudeApi
    engine: Engine
    bolt: AsyncApp
    identity: BotIdentity
    intake: Intake
    commands: CommandIntake
    sql: SqlRunner
    configs: ChannelConfigs
    socket_handler: SocketHandler | None = None
    http_runner: web.AppRunner | None = None
    metrics_runner: web.AppRunner | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.readiness = Readiness(self.store.ping)
        self.gauges = GaugeRefresher(self.store.pending_count)

    async def serve(self) -> None:
        """Connect to Slack and start the HTTP server; returns once everything is up."""
        # Before any turn or event: what each channel's admin set (bot/assistants/).
        await self.configs.start()
        await self.engine.start()
        # Before any event can arrive: the first message of someone already known needs no lookup
        # before it is acknowledged (bot/slack/access.py).
        await self.intake.gate.warm_up(WARM_UP_SECONDS)
        self.commands.start()  # completes commands a previous process left unfinished, then keeps watch
        port = self.settings.http_port
        if port is not None:
            self.http_runner = await start_http(self, port)
        if self.settings.metrics_port is not None:
            self.metrics_runner = await start_metrics(
                self, self.settings.metrics_host, self.settings.metrics_port
            )
        if port is not None or self.metrics_runner is not None:
            self.gauges.start()
        if self.settings.socket_mode:
            assert self.settings.slack_app_token is not None
            self.socket_handler = SocketHandler(self.bolt, self.settings.slack_app_token, self.intake)
            await self.socket_handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
        else:
            log.info("HTTP mode: Slack events on port %s at /slack/events", port)

    async def close(self) -> None:
        await self.commands.close()
        await self.intake.gate.close()
        if self.socket_handler is not None:
            await self.socket_handler.close_async()  # type: ignore[no-untyped-call]
        for runner in (self.http_runner, self.metrics_runner):
            if runner is not None:
                await runner.cleanup()
        await self.gauges.stop()
        await self.engine.shutdown(self.settings.shutdown_grace_seconds)
        await self.claude.close()
        await self.sql.close()
        await self.configs.close()
        await self.session.close()
        await self.store.close()


async def build(settings: Settings) -> BotApp:
    store = await open_store(settings.database_url, lease_seconds=settings.lease_seconds)
    session = aiohttp.ClientSession(
        # Few connections per host, reused: a burst of 200 turns would otherwise open 200 connections
        # to Slack at once (a TLS handshake each in production), costing more than queueing for one.
        connector=aiohttp.TCPConnector(
            limit=max(100, settings.max_concurrent_turns), limit_per_host=SLACK_CONNECTIONS
        ),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
    )
    try:
        budget = RateBudget(enabled=settings.slack_rate_limits == "tiers")
        client = make_slack_client(settings, session, budget)
        auth = await client.auth_test()
        identity = BotIdentity(
            user_id=str(auth["user_id"]),
            bot_id=str(auth.get("bot_id") or ""),
            team_id=str(auth["team_id"]),
            name=str(auth.get("user") or "claude"),
        )
        allowed = frozenset(h.lower() for h in (settings.slack_api_host, *settings.slack_file_hosts) if h)
        # Plain http only to the configured API host, and only when it is configured so (the emulator).
        plain = (
            frozenset({settings.slack_api_host})
            if settings.slack_api_url.startswith("http://")
            else frozenset()
        )
        fetcher = SlackFileFetcher(
            client, session, token=settings.slack_bot_token, allowed_hosts=allowed, plain_http_hosts=plain
        )
        configs = ChannelConfigs(
            store.all_channel_settings, reload_seconds=settings.channel_settings_reload_seconds
        )

        def needs_mention(channel_id: str) -> bool:
            own = configs.assistant(channel_id).needs_mention
            return settings.only_when_mentioned if own is None else own

        gate = AccessGate(
            policy_from(settings, identity.team_id),
            store,
            client,
            budget,
            Accounts(client, budget),
            UserGroups(client),
        )
        surface = SlackSurface(
            client,
            session,
            budget,
            fetcher,
            gate,
            bot_user_id=identity.user_id,
            bot_name=identity.name,
            update_seconds=settings.stream_update_seconds,
            needs_mention=needs_mention,
            stream_max_seconds=settings.stream_max_seconds,
        )
        claude = ClaudeApi(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            max_retries=settings.anthropic_max_retries,
            timeout=settings.anthropic_timeout_seconds,
            max_connections=max(100, settings.max_concurrent_turns + 50),
        )
        custom: tuple[SkillRef, ...] = ()
        if settings.skills_dir is not None:
            report = await sync(SkillsApi(claude.client), settings.skills_dir)
            for problem in report.problems:
                log.error("skills: %s", problem)
            custom = report.skills
        skills = all_skills(anthropic_skills(settings.anthropic_skills), custom)
        tools = ToolRegistry()
        register_builtin(tools)
        sql = SqlRunner(load_sources(str(settings.data_sources_file) if settings.data_sources_file else None))

        async def audit_query(query: QueryAudit) -> None:
            await store.audit(
                query.user_id,
                "query",
                thread=query.thread,
                detail={
                    "source": query.source,
                    "statement": query.statement,
                    "rows": query.rows,
                    "ms": query.elapsed_ms,
                    "outcome": query.outcome,
                },
            )

        register_connectors(tools, sql, audit=audit_query)
        tools.load_modules(settings.tools_modules)
        tracker = SpendTracker(settings, store)
        runner = TurnRunner(
            settings,
            store,
            surface,
            claude,
            tools,
            tracker,
            owner=new_owner_id(),
            skills=skills,
            assistants=configs,
        )
        engine = Engine(settings, store, surface, claude, runner)
        authorized = AuthorizeResult(
            enterprise_id=auth.get("enterprise_id"),
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=settings.slack_bot_token,
            bot_scopes=str(auth.headers.get("x-oauth-scopes", "")).split(","),
        )

        async def authorize() -> AuthorizeResult:
            # One workspace, already verified by auth.test at start-up: Bolt's default would call
            # auth.test again for the first requests (once per concurrent request, slack-platform.md §1.1).
            return authorized

        # Bolt warns that SLACK_BOT_TOKEN from the environment is unused when a client and an
        # authorize function are given, which is exactly the intent here.
        bolt_log = logging.getLogger("slack_bolt.AsyncApp")
        level = bolt_log.level
        bolt_log.setLevel(logging.ERROR)
        bolt = AsyncApp(
            client=client,
            authorize=authorize,
            signing_secret=settings.slack_signing_secret or "",
            # Socket Mode needs no signing secret; HTTP mode verifies every request (slack-platform.md §1.5).
            request_verification_enabled=not settings.socket_mode,
        )
        bolt_log.setLevel(level)
        intake = Intake(
            engine,
            store,
            gate,
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            needs_mention=needs_mention,
        )
        commands = CommandIntake(
            engine,
            store,
            client,
            session,
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            bot_name=identity.name,
            owner=runner.owner,
            interval=max(1.0, settings.lease_seconds / 6),
        )
        unpriced = [m for m in settings.channel_models if not tracker.book.knows(m)]
        if unpriced:
            log.warning(
                "no price is known for %s (CHANNEL_MODELS): billed at the highest known rates", unpriced
            )
        choices = Choices(
            models=tuple(settings.channel_models),
            default_model=settings.claude_model,
            sources=tuple(
                (s.name, s.description) for s in sorted(sql.sources.values(), key=lambda s: s.name)
            ),
            skills=tuple((s.name, s.description) for s in skills),
            web_search=settings.web_search,
            web_fetch=settings.web_fetch,
            needs_mention=settings.only_when_mentioned,
            budget_daily=settings.budget_channel_daily_usd,
            budget_monthly=settings.budget_channel_monthly_usd,
        )
        assistant = AssistantConfig(
            client, store, gate, configs, choices, budget, command=settings.slash_command
        )
        register_listeners(
            bolt,
            intake=intake,
            slash=SlashCommand(
                store,
                gate,
                commands,
                SpendingCommands(tracker, store, gate),
                assistant,
                command=settings.slash_command,
                bot_name=identity.name,
                skills=[(s.name, s.description) for s in skills],
            ),
            controls=Controls(engine, store, gate, team_id=identity.team_id),
            home=HomeTab(
                client,
                session,
                budget,
                store,
                tracker,
                gate,
                bot_name=identity.name,
                slash_command=settings.slash_command,
            ),
            assistant=assistant,
            slash_command=settings.slash_command,
        )
    except BaseException:
        await session.close()
        await store.close()
        raise
    return BotApp(
        settings, store, session, client, claude, engine, bolt, identity, intake, commands, sql, configs
    )


async def start_http(bot: BotApp, port: int) -> web.AppRunner:
    """The public port: Slack's events (HTTP mode), health, readiness, and /metrics behind its token."""

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:  # Bolt parses the body before checking its signature: truncated JSON
            log.warning("refused a request to /slack/events: its body is not valid JSON")
            return web.Response(status=400, text="the body is not valid JSON")
        response = await bot.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    app = web.Application()
    if not bot.settings.socket_mode:
        app.router.add_post("/slack/events", events)
    health_routes(app, bot.readiness, metrics_token=bot.settings.metrics_token, open_metrics=False)
    return await start_site(app, "0.0.0.0", port)


async def start_metrics(bot: BotApp, host: str, port: int) -> web.AppRunner:
    """METRICS_PORT: /metrics without a token, for a scraper that can reach this (local) address."""
    app = web.Application()
    health_routes(app, bot.readiness, metrics_token=None, open_metrics=True)
    return await start_site(app, host, port)
