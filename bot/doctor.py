"""`python -m bot check`: is this deployment set up right? One line per check, with the fix.

Exit code 0 only when every check passes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.claude.api import ClaudeApi
from bot.claude.errors import ClaudeError
from bot.config import Settings, SettingsError, load_settings
from bot.connectors.sources import SourcesError, load_sources
from bot.connectors.sql import SqlRunner
from bot.connectors.sqlcheck import Refused
from bot.logs import redact_url
from bot.slack.errors import error_code, explain
from bot.slack.scopes import required_scopes
from bot.store import Database
from bot.store.migrate import schema_status

TIMEOUT = 15.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = [
        Check(
            "settings",
            True,
            f"{'Socket Mode' if settings.socket_mode else 'HTTP mode'}, model {settings.claude_model}",
        )
    ]
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=settings.slack_bot_token, base_url=settings.slack_api_url, session=session
        )
        checks += await _slack(client, settings)
        if settings.socket_mode:
            checks.append(await _app_token(client, settings))
    checks.append(await _anthropic(settings))
    checks.append(await _database(settings))
    checks += await _data_sources(settings)
    return checks


async def _data_sources(settings: Settings) -> list[Check]:
    """Each declared data source answers a query (read-only, as the tools will run it)."""
    if settings.data_sources_file is None:
        return []
    try:
        sources = load_sources(str(settings.data_sources_file))
    except SourcesError as exc:
        return [Check("data sources", False, redact_url(str(exc)).replace("\n", "; "))]
    runner = SqlRunner(sources)
    checks = []
    try:
        for source in sources:
            try:
                async with asyncio.timeout(TIMEOUT):
                    tables = await runner.tables(source.name)
                checks.append(Check(f"data source {source.name}", True, f"{len(tables)} table(s) readable"))
            except (Refused, OSError, TimeoutError) as exc:
                checks.append(
                    Check(
                        f"data source {source.name}",
                        False,
                        f"{redact_url(str(exc))}: check its url in the file.",
                    )
                )
            except Exception as exc:
                checks.append(
                    Check(
                        f"data source {source.name}",
                        False,
                        f"cannot connect ({type(exc).__name__}): check its url.",
                    )
                )
    finally:
        await runner.close()
    return checks


async def _slack(client: AsyncWebClient, settings: Settings) -> list[Check]:
    try:
        async with asyncio.timeout(TIMEOUT):
            auth = await client.auth_test()
    except SlackApiError as exc:
        fix = explain(error_code(exc), method="auth.test").operator
        return [Check("slack bot token", False, fix)]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [
            Check(
                "slack bot token",
                False,
                f"Slack is unreachable at {settings.slack_api_url} ({type(exc).__name__}); check SLACK_API_URL and the network.",
            )
        ]
    checks = [
        Check(
            "slack bot token",
            True,
            f"@{auth.get('user')} in workspace {auth.get('team')} ({auth.get('team_id')})",
        )
    ]
    granted = {s.strip() for s in str(auth.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = sorted(required_scopes() - granted)
    if missing:
        checks.append(
            Check(
                "slack scopes",
                False,
                f"missing {', '.join(missing)}: add them under OAuth & Permissions (or re-create the app from "
                "manifest.yaml) and reinstall the app to the workspace.",
            )
        )
    else:
        checks.append(
            Check("slack scopes", True, f"all {len(required_scopes())} scopes the bot uses are granted")
        )
    return checks


async def _app_token(client: AsyncWebClient, settings: Settings) -> Check:
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.apps_connections_open(app_token=settings.slack_app_token or "")
    except SlackApiError as exc:
        code = error_code(exc)
        if code == "not_allowed_token_type":
            fix = "SLACK_APP_TOKEN is not an app-level token: create one (xapp-...) under Basic Information → App-Level Tokens."
        elif code in ("invalid_auth", "not_authed"):
            fix = (
                "SLACK_APP_TOKEN was rejected: create a new app-level token with the connections:write scope."
            )
        elif code == "missing_scope":
            fix = "the app-level token lacks connections:write: create one with that scope."
        else:
            fix = f"apps.connections.open failed ({code}): check that Socket Mode is enabled for the app."
        return Check("slack socket mode", False, fix)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check("slack socket mode", False, f"Slack is unreachable ({type(exc).__name__}).")
    return Check("slack socket mode", True, "the app-level token opens a Socket Mode connection")


async def _anthropic(settings: Settings) -> Check:
    api = ClaudeApi(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        max_retries=1,
        timeout=TIMEOUT,
    )
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            name = await api.model_exists(settings.claude_model)
    except ClaudeError as exc:
        return Check("anthropic", False, exc.user_message)
    except TimeoutError:
        return Check(
            "anthropic",
            False,
            "the Anthropic API did not answer in time; check ANTHROPIC_BASE_URL and the network.",
        )
    finally:
        await api.close()
    return Check("anthropic", True, f"the API key works and {settings.claude_model} ({name}) is available")


async def _database(settings: Settings) -> Check:
    db: Database | None = None
    try:
        db = Database(settings.database_url)
        async with asyncio.timeout(TIMEOUT):
            status = await schema_status(db)
    except Exception as exc:
        return Check(
            "database",
            False,
            f"cannot connect ({type(exc).__name__}): check DATABASE_URL and that the server is up.",
        )
    finally:
        if db is not None:
            await db.close()
    if status.up_to_date:
        return Check("database", True, f"connected, schema at the latest revision ({status.head})")
    if db.is_sqlite:
        return Check("database", True, f"connected; the schema will be brought up to {status.head} on start")
    return Check(
        "database",
        False,
        f"schema at {status.current or 'nothing'}, needs {status.head}: run `python -m bot migrate`.",
    )


async def doctor() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"FAIL settings: {line.removeprefix('Setting error: ')}")
        return 1
    checks = await run_checks(settings)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1
