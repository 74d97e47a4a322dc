"""End-to-end fixtures: both emulators in the test's event loop, the real bot as a child process."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from emulators.anthropic import AnthropicEmulator
from emulators.slack import SlackEmulator
from tests import postgres
from tests.harness import BotProcess, bot_env

SECRET_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}"),
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"sk-ant-[A-Za-z0-9_-]{6,}"),
]

StartBot = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def claude() -> AsyncIterator[AnthropicEmulator]:
    emulator = AnthropicEmulator(api_key="sk-ant-test-emulator-key", validate_responses=True)
    await emulator.start()
    try:
        yield emulator
        assert emulator.validation_failures == []
    finally:
        await emulator.stop()


@pytest.fixture
async def start_bot(
    slack: SlackEmulator, claude: AnthropicEmulator, tmp_path: Path
) -> AsyncIterator[StartBot]:
    """Start `python -m bot` (several times if a test wants replicas or restarts). On teardown every
    process is stopped, and its log must hold no token or key."""
    started: list[BotProcess] = []

    async def start(
        *, socket_mode: bool = True, database_url: str | None = None, wait_ready: bool = True, **settings: str
    ) -> BotProcess:
        env = bot_env(
            slack_api_url=slack.api_url,
            bot_token=slack.bot_token,
            app_token=slack.app_token if socket_mode else None,
            anthropic_url=claude.base_url,
            anthropic_key=claude.api_key,
            database_url=database_url or f"sqlite+aiosqlite:///{tmp_path}/bot.db",
            extra={k.upper(): v for k, v in settings.items()},
        )
        if not socket_mode:
            env.setdefault("SLACK_SIGNING_SECRET", slack.signing_secret)
        bot = BotProcess(env=env, cwd=tmp_path, name=f"bot-{len(started) + 1}")
        started.append(bot)
        await bot.start(wait_ready=wait_ready)
        return bot

    yield start
    for bot in started:
        if bot.process is not None and bot.process.returncode is None:
            await bot.stop()
        # Shown by pytest only when the test fails.
        print(f"----- {bot.name} log -----\n{bot.tail(120)}")
    for bot in started:
        for line in bot.lines:
            for pattern in SECRET_PATTERNS:
                assert not pattern.search(line), f"{bot.name} logged a secret: {line}"


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    await postgres.require()
    name = await postgres.create_database()
    url = postgres.url_for(name)
    try:
        # The operator's step for a shared database: `python -m bot migrate`.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "migrate",
            cwd=tmp_path,
            env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()
        assert b"latest" in out
        yield url
    finally:
        await postgres.drop_database(name)
