"""Command line: `python -m bot [run|check|migrate|settings|skills sync|playground]`.

`run` (the default) connects in Socket Mode when SLACK_APP_TOKEN is set, otherwise serves HTTP mode
on PORT; SIGTERM or SIGINT shut it down cleanly (running turns are suspended at the end of the model
response under way, within SHUTDOWN_GRACE_SECONDS, and go on after the restart) and it exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from bot.claude.errors import ClaudeError
from bot.config import SettingsError, load_settings
from bot.connectors.sources import SourcesError
from bot.logs import redact_url, url_password
from bot.settings_doc import readme_with_settings, settings_table
from bot.skills import SkillsError
from bot.slack.errors import explain_exception

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Slack app that turns every thread into a persistent Python sandbox run by Claude.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.add_parser("run", help="run the bot (the default): Socket Mode with SLACK_APP_TOKEN, else HTTP mode")
    sub.add_parser(
        "check",
        help="check the setup: settings, Slack tokens and scopes, the Anthropic key and model, the database",
    )
    sub.add_parser(
        "migrate", help="bring the database schema up to date (needed once per release on PostgreSQL)"
    )
    settings = sub.add_parser(
        "settings", help="print the table of every setting (Markdown, as in the README)"
    )
    settings.add_argument(
        "--update", metavar="README", help="rewrite the settings section of this file instead"
    )
    skills = sub.add_parser("skills", help="manage your Agent Skills (the folders in SKILLS_DIR)")
    skills.add_argument(
        "action",
        choices=["sync"],
        help="sync: upload the skills that changed and pin their versions in SKILLS_DIR/skills.lock.json",
    )
    playground = sub.add_parser(
        "playground",
        help="try it in the browser without a Slack app: a local channel, the real bot, the Anthropic "
        "emulator unless ANTHROPIC_API_KEY is set (needs pip install '.[playground]')",
    )
    playground.add_argument("--port", default="8080", help="the page's port (default 8080)")
    playground.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    playground.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def _playground_argv(args: argparse.Namespace) -> list[str] | None:
    """The command that runs the playground (`python -m playground`), or None if it is not installed.
    It is a package of its own, with the emulators, which the bot never imports: the bot runs the
    same whether they are installed or not."""
    # The packages ship with the bot; the extra brings what the emulators' sandbox runs.
    needed = ("playground", "emulators", "pandas", "matplotlib", "PIL", "pypdf")
    if any(importlib.util.find_spec(name) is None for name in needed):
        print("The playground is not installed: pip install '.[playground]'", file=sys.stderr)
        return None
    argv = [sys.executable, "-m", "playground", "--port", args.port, "--host", args.host]
    if args.no_browser:
        argv.append("--no-browser")
    return argv


async def _run() -> int:
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    logs.register_secrets(
        settings.slack_bot_token,
        settings.slack_app_token,
        settings.slack_signing_secret,
        settings.anthropic_api_key,
        url_password(settings.database_url),
    )
    from bot.app import build

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        bot = await build(settings)
    except SourcesError as exc:
        for line in str(exc).splitlines():
            print(f"Cannot start: {redact_url(line)}", file=sys.stderr)
        return 2
    except (SkillsError, ClaudeError) as exc:
        print(f"Cannot start: {exc.user_message if isinstance(exc, ClaudeError) else exc}", file=sys.stderr)
        return 2
    except SlackApiError as exc:
        explained = explain_exception(exc, "auth.test")
        print(f"Cannot start: {explained.operator}", file=sys.stderr)
        return 2
    except aiohttp.ClientError as exc:
        print(f"Cannot start: Slack is unreachable at {settings.slack_api_url} ({exc}).", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"Cannot start: the database of DATABASE_URL cannot be opened ({type(exc).__name__}: "
            f"{redact_url(str(exc))}).",
            file=sys.stderr,
        )
        return 2
    # Everything created at start-up lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise pause the event loop for tens of milliseconds.
    gc.collect()
    gc.freeze()
    # A young collection every 10,000 net allocations rather than every 700: under load (1,000
    # turns at once) the collector took an eighth of the bot's CPU, most of it promoting objects
    # that a turn frees moments later into older generations whose full passes then paused the
    # event loop for up to 50 ms. A young pass of 10,000 objects takes a few milliseconds.
    gc.set_threshold(10_000, 10, 10)
    # The SQLite thread runs Python (SQLAlchemy) too; with the default 5 ms GIL switch interval a
    # commit could keep the event loop (and every Slack acknowledgement) waiting that long.
    sys.setswitchinterval(0.0001)
    try:
        await bot.serve()
        log.info(
            "ready (model %s, %s)",
            settings.claude_model,
            "Socket Mode" if settings.socket_mode else "HTTP mode",
        )
        await stop.wait()
        log.info("shutting down")
    finally:
        await bot.close()
    log.info("stopped")
    return 0


async def _skills_sync() -> int:
    """Upload the skills of SKILLS_DIR that changed; one line per skill; 1 if any could not be."""
    from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient
    from pydantic import ValidationError

    from bot.claude.api import ANTHROPIC_VERSION
    from bot.claude.skills_api import SkillsApi
    from bot.config import SkillsSettings
    from bot.skills import sync

    try:
        settings = SkillsSettings()  # type: ignore[call-arg]
    except ValidationError:
        print("Setting error: ANTHROPIC_API_KEY is not set.", file=sys.stderr)
        return 2
    if settings.skills_dir is None:
        print("SKILLS_DIR is not set: there are no skills of your own to sync.", file=sys.stderr)
        return 2
    client = AsyncAnthropic(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        default_headers={"anthropic-version": ANTHROPIC_VERSION},
        http_client=DefaultAsyncHttpxClient(follow_redirects=False),
    )
    try:
        report = await sync(SkillsApi(client), settings.skills_dir)
    except ClaudeError as exc:
        print(f"FAIL {exc.user_message}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    for skill in report.skills:
        state = "uploaded" if skill.name in report.uploaded else "unchanged"
        print(f"ok   {skill.name}: {state}, {skill.skill_id} version {skill.version}")
    for problem in report.problems:
        print(f"FAIL {problem}")
    return 1 if report.problems else 0


async def _migrate() -> int:
    from bot.config import DatabaseSettings
    from bot.store import Database
    from bot.store.migrate import upgrade

    db = Database(DatabaseSettings().database_url)
    try:
        status = await upgrade(db)
    finally:
        await db.close()
    print(f"database schema is at revision {status.current} (latest)")
    return 0


def _serve() -> int:
    try:
        import uvloop
    except ImportError:  # Windows (see pyproject.toml): asyncio's own loop
        return asyncio.run(_run())
    return uvloop.run(_run())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    try:
        if command == "settings":
            if args.update:
                path = Path(args.update)
                path.write_text(readme_with_settings(path.read_text(encoding="utf-8")), encoding="utf-8")
            else:
                sys.stdout.write(settings_table())
            return 0
        if command == "migrate":
            return asyncio.run(_migrate())
        if command == "skills":
            return asyncio.run(_skills_sync())
        if command == "playground":
            argv = _playground_argv(args)
            if argv is None:
                return 2
            os.execv(sys.executable, argv)
        if command == "check":
            from bot.doctor import doctor

            return asyncio.run(doctor())
        return _serve()
    except SettingsError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 2
    except SkillsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        from bot.store import SchemaBehind

        if isinstance(exc, SchemaBehind):
            print(str(exc), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
