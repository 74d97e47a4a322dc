"""Which model the playground uses and the environment the bot process gets: pure functions.

The bot runs unmodified and reads the operator's `.env` as in production; the playground only
points it at the Slack emulator (and at the Anthropic emulator when no key is configured), and keeps
its state in a SQLite file of its own under `./data/`, so trying things never writes into the
database a deployment uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings

# Ana, the first person of the page, is an admin unless the operator's ADMINS says otherwise.
DEFAULT_ADMIN = "U0123ABCD"


@dataclass(frozen=True)
class Backend:
    """The model behind the bot, as the page shows it."""

    emulated: bool
    name: str
    detail: str

    def json(self) -> dict[str, object]:
        return {"emulated": self.emulated, "name": self.name, "detail": self.detail}


def _setting(name: str, environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> str | None:
    """A setting as the bot will read it: the environment first, then `.env` (pydantic-settings)."""
    value = environ.get(name)
    if value is None:
        value = dotenv.get(name)
    return value or None


def backend(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> Backend:
    if _setting("ANTHROPIC_API_KEY", environ, dotenv) is None:
        return Backend(
            True,
            "Anthropic emulator",
            "It answers with your text and runs each ```python block of your message in a local "
            "sandbox. Set ANTHROPIC_API_KEY for the real Claude.",
        )
    default = Settings.model_fields["claude_model"].default
    model = _setting("CLAUDE_MODEL", environ, dotenv) or default
    return Backend(False, f"Claude ({model})", "The Anthropic API and its code-execution sandbox.")


def admins(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> set[str]:
    configured = _setting("ADMINS", environ, dotenv)
    if configured is None:
        return {DEFAULT_ADMIN}
    return {part.strip() for part in configured.split(",") if part.strip()}


def bot_environment(
    environ: Mapping[str, str],
    dotenv: Mapping[str, str | None],
    *,
    slack_api_url: str,
    bot_token: str,
    app_token: str,
    anthropic: tuple[str, str] | None,
    data_dir: Path,
) -> dict[str, str]:
    """The bot's environment: the playground's own, with Slack (and the model when `anthropic` =
    (base URL, key) is given) pointed at the emulators. The rest comes from `.env` as usual."""
    env = {k: v for k, v in environ.items() if not k.startswith("SLACK_")}
    env.update(
        {
            "SLACK_API_URL": slack_api_url,
            "SLACK_BOT_TOKEN": bot_token,
            "SLACK_APP_TOKEN": app_token,
            "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'playground.db'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if anthropic is not None:
        env["ANTHROPIC_BASE_URL"], env["ANTHROPIC_API_KEY"] = anthropic
    if _setting("ADMINS", environ, dotenv) is None:
        env["ADMINS"] = DEFAULT_ADMIN
    return env
