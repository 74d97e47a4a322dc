"""Settings: defaults, one-line errors, and the README's generated table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import logs
from bot.config import Settings, SettingsError, load_settings
from bot.logs import redact_url, url_password
from bot.settings_doc import readme_with_settings

ROOT = Path(__file__).parent.parent.parent
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "ANTHROPIC_API_KEY": "sk-ant-1"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_readme_settings_table_is_up_to_date() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_settings(readme) == readme, "run `python -m bot settings --update README.md`"


def test_defaults_and_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in GOOD.items():
        monkeypatch.setenv(k, v)
    s = load_settings(env_file=None)
    assert s.socket_mode and s.http_port is None
    assert s.code_execution_tool == "code_execution_20260120"
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    monkeypatch.delenv("SLACK_APP_TOKEN")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("MAX_FILE_MB", "50")
    s = load_settings(env_file=None)
    assert not s.socket_mode and s.http_port == 3000 and s.max_file_bytes == 50 * 1024 * 1024


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in GOOD.items()) + "\nCLAUDE_MODEL=claude-opus-5\n"
    )
    assert load_settings().claude_model == "claude-opus-5"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        (
            {**GOOD, "SLACK_BOT_TOKEN": "xoxp-user"},
            "SLACK_BOT_TOKEN is invalid: must be a bot token starting with xoxb-",
        ),
        ({**GOOD, "PORT": "seventy"}, "PORT is invalid ('seventy')"),
        ({**GOOD, "DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
        ({**GOOD, "CODE_EXECUTION_TOOL": "code_execution_20250825"}, "CODE_EXECUTION_TOOL is invalid"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "ANTHROPIC_API_KEY": "sk-ant-1"},
            "set SLACK_APP_TOKEN (xapp-..., Socket Mode) or SLACK_SIGNING_SECRET",
        ),
        (
            {**GOOD, "WEB_ALLOWED_DOMAINS": "ecb.europa.eu", "WEB_BLOCKED_DOMAINS": "example.com"},
            "WEB_ALLOWED_DOMAINS and WEB_BLOCKED_DOMAINS: set one or the other",
        ),
        ({**GOOD, "WEB_BLOCKED_DOMAINS": "https://x.com"}, "WEB_BLOCKED_DOMAINS is invalid"),
        ({**GOOD, "ANTHROPIC_SKILLS": "pptx,keynote"}, "ANTHROPIC_SKILLS is invalid"),
    ],
)
def test_errors_are_one_clear_line_each(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as raised:
        load_settings(env_file=None)
    assert any(line in text for text in raised.value.lines), raised.value.lines
    assert all(
        "\n" not in text and "sk-ant-1" not in text and "xoxp-user" not in text for text in raised.value.lines
    )


def test_an_invalid_database_url_is_shown_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in GOOD.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("DATABASE_URL", "postgres://bot:hunter2secret@db.internal/bot")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    line = "\n".join(caught.value.lines)
    assert "DATABASE_URL is invalid ('postgres://bot:***@db.internal/bot')" in line
    assert "hunter2secret" not in line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql+asyncpg://u:p4ss@h:5432/db", "postgresql+asyncpg://u:***@h:5432/db"),
        (
            "could not reach postgresql://u:p@h/db (timeout)",
            "could not reach postgresql://u:***@h/db (timeout)",
        ),
        ("sqlite+aiosqlite:///./data/bot.db", "sqlite+aiosqlite:///./data/bot.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_redact_url(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_the_log_masks_registered_secrets_by_value() -> None:
    logs.register_secrets("0123456789abcdef0123456789abcdef", None, "")
    assert logs.mask("signing secret 0123456789abcdef0123456789abcdef!") == "signing secret …[redacted]!"
    assert url_password("postgresql+asyncpg://u:p4ss@h/db") == "p4ss"
