"""`python -m bot check` against the emulators, with a good setup and with each kind of mistake."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from emulators.anthropic import AnthropicEmulator
from emulators.slack import DEFAULT_BOT_SCOPES, SlackEmulator
from tests import postgres
from tests.harness import bot_env


async def check(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines()


@pytest.fixture
def env(slack: SlackEmulator, claude: AnthropicEmulator, tmp_path: Path) -> dict[str, str]:
    return bot_env(
        slack_api_url=slack.api_url,
        bot_token=slack.bot_token,
        app_token=slack.app_token,
        anthropic_url=claude.base_url,
        anthropic_key=claude.api_key,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    )


async def test_a_good_setup_passes_every_check(env: dict[str, str], tmp_path: Path) -> None:
    code, lines = await check(env, tmp_path)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [
        "ok   settings",
        "ok   slack bot token",
        "ok   slack scopes",
        "ok   slack socket mode",
        "ok   anthropic",
        "ok   database",
    ]


@pytest.mark.parametrize(
    ("broken", "expect"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-not-a-real-token"},
            "FAIL slack bot token: auth.test: invalid_auth: SLACK_BOT_TOKEN is wrong",
        ),
        (
            {"SLACK_APP_TOKEN": "xapp-not-a-real-token"},
            "FAIL slack socket mode: SLACK_APP_TOKEN was rejected",
        ),
        ({"ANTHROPIC_API_KEY": "sk-ant-wrong"}, "FAIL anthropic: The bot's Anthropic API key was rejected"),
        (
            {"CLAUDE_MODEL": "claude-nonexistent-9"},
            "FAIL anthropic: The configured Claude model was not found",
        ),
        ({"DATABASE_URL": "sqlite+aiosqlite:////proc/nowhere/bot.db"}, "FAIL database: cannot connect"),
        ({"SLACK_BOT_TOKEN": ""}, "FAIL settings: SLACK_BOT_TOKEN is invalid"),
        ({"PORT": "http"}, "FAIL settings: PORT is invalid"),
    ],
)
async def test_each_mistake_is_named_with_its_fix(
    env: dict[str, str], tmp_path: Path, broken: dict[str, str], expect: str
) -> None:
    code, lines = await check({**env, **broken}, tmp_path)
    assert code == 1
    assert any(line.startswith(expect) for line in lines), lines


async def test_missing_scopes_are_named(slack: SlackEmulator, env: dict[str, str], tmp_path: Path) -> None:
    slack.set_scopes(
        slack.bot_token, [s for s in DEFAULT_BOT_SCOPES if s not in ("files:write", "reactions:write")]
    )
    code, lines = await check(env, tmp_path)
    assert code == 1
    assert any(
        line.startswith("FAIL slack scopes: missing files:write, reactions:write") for line in lines
    ), lines


async def test_an_unmigrated_shared_database_says_to_migrate(env: dict[str, str], tmp_path: Path) -> None:
    await postgres.require()
    name = await postgres.create_database()
    try:
        code, lines = await check({**env, "DATABASE_URL": postgres.url_for(name)}, tmp_path)
    finally:
        await postgres.drop_database(name)
    assert code == 1
    assert any(
        line.startswith("FAIL database: schema at nothing") and "python -m bot migrate" in line
        for line in lines
    ), lines
