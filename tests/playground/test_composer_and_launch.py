"""The playground's pure parts: what the composer sends, which model it uses, the bot's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground import launch
from playground.composer import SlashCommand, slack_text, slash_command

HANDLES = {"claude": "U0BOT1234", "ana": "U0123ABCD", "chloe": "U0345CDEF", "chloé": "U0345CDEF"}


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("@claude hi", "<@U0BOT1234> hi"),
        ("hi @Claude, and @ana.", "hi <@U0BOT1234>, and <@U0123ABCD>."),
        ("ask @chloé", "ask <@U0345CDEF>"),
        ("mail ana@example.com", "mail ana@example.com"),
        ("@nobody here", "@nobody here"),
        ("@claude run\n```python\nx = '@claude'\n```", "<@U0BOT1234> run\n```python\nx = '@claude'\n```"),
        ("`@ana` is @ana", "`@ana` is <@U0123ABCD>"),
        ("", ""),
    ],
)
def test_mentions_become_slack_mentions(typed: str, sent: str) -> None:
    assert slack_text(typed, HANDLES) == sent


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("/claude help", SlashCommand("/claude", "help")),
        ("/claude", SlashCommand("/claude", "")),
        ("  /claude   what is 2+2?\nthanks ", SlashCommand("/claude", "what is 2+2?\nthanks")),
        ("/giphy cats", SlashCommand("/giphy", "cats")),
        ("hello /claude", None),
        ("/ not a command", None),
        ("/usr/bin/python is slow", None),
    ],
)
def test_slash_commands(typed: str, command: SlashCommand | None) -> None:
    assert slash_command(typed) == command


@pytest.mark.parametrize(
    ("environ", "dotenv", "emulated"),
    [
        ({}, {}, True),
        ({"ANTHROPIC_API_KEY": "sk-ant-x"}, {}, False),
        ({}, {"ANTHROPIC_API_KEY": "sk-ant-x"}, False),
        ({"ANTHROPIC_API_KEY": ""}, {"ANTHROPIC_API_KEY": None}, True),
    ],
)
def test_the_real_model_only_with_a_key(
    environ: dict[str, str], dotenv: dict[str, str | None], emulated: bool
) -> None:
    assert launch.backend(environ, dotenv).emulated is emulated


def test_the_real_models_name_is_shown() -> None:
    backend = launch.backend({"ANTHROPIC_API_KEY": "k"}, {"CLAUDE_MODEL": "claude-opus-9"})
    assert "claude-opus-9" in backend.name


@pytest.mark.parametrize(
    ("environ", "dotenv", "admins"),
    [
        ({}, {}, {"U0123ABCD"}),
        ({}, {"ADMINS": "U1, U2"}, {"U1", "U2"}),
        ({"ADMINS": "U3"}, {"ADMINS": "U1"}, {"U3"}),
    ],
)
def test_admins(environ: dict[str, str], dotenv: dict[str, str | None], admins: set[str]) -> None:
    assert launch.admins(environ, dotenv) == admins


def test_the_bot_talks_to_the_emulators_and_keeps_its_own_database(tmp_path: Path) -> None:
    env = launch.bot_environment(
        {
            "SLACK_BOT_TOKEN": "xoxb-production",
            "SLACK_SIGNING_SECRET": "s",
            "PATH": "/usr/bin",
            "PERSONA": "p",
        },
        {"DATABASE_URL": "postgresql://prod"},
        slack_api_url="http://127.0.0.1:1/api/",
        bot_token="xoxb-emu",
        app_token="xapp-emu",
        anthropic=("http://127.0.0.1:2", "sk-ant-emu"),
        data_dir=tmp_path,
    )
    assert env["SLACK_API_URL"] == "http://127.0.0.1:1/api/"
    assert env["SLACK_BOT_TOKEN"] == "xoxb-emu" and env["SLACK_APP_TOKEN"] == "xapp-emu"
    assert "SLACK_SIGNING_SECRET" not in env
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:2" and env["ANTHROPIC_API_KEY"] == "sk-ant-emu"
    # The environment's variables reach the bot; settings from .env are left for the bot to read.
    assert env["PERSONA"] == "p" and env["PATH"] == "/usr/bin"
    assert env["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path}/playground.db"
    assert env["ADMINS"] == "U0123ABCD"


def test_with_a_key_the_model_is_left_to_the_bots_settings(tmp_path: Path) -> None:
    env = launch.bot_environment(
        {"ANTHROPIC_API_KEY": "sk-ant-real"},
        {"ADMINS": "U9"},
        slack_api_url="u",
        bot_token="b",
        app_token="a",
        anthropic=None,
        data_dir=tmp_path,
    )
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-real" and "ANTHROPIC_BASE_URL" not in env
    assert "ADMINS" not in env
