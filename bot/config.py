"""Every knob of the bot, read from the environment (and an optional `.env`) in one place.

The names in the "public contract" group are fixed (README, Dockerfile and tests depend on them); the
rest are ours. `load_settings()` turns pydantic's validation errors into one line per problem that
names the variable and says what to put there, because a traceback is no help to an operator.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.governance.budgets import budget_timezone
from bot.governance.pricing import with_overrides
from bot.logs import redact_url

DEFAULT_MODEL = "claude-sonnet-5"
# What `/claude config` offers by default: current models the price table knows (bot/governance/pricing.py).
CHANNEL_MODELS = (
    "claude-sonnet-5-5",
    "claude-opus-5-5",
    "claude-haiku-5-5",
    "claude-sonnet-5",
    "claude-opus-5",
)
# Anthropic's pre-built Agent Skills (Agent Skills guide, "Using Skills").
ANTHROPIC_SKILLS = ("xlsx", "pptx", "docx", "pdf")
# The Files API refuses anything bigger (anthropic-code-execution.md §5).
FILES_API_MAX_BYTES = 500 * 1024 * 1024


class SettingsError(Exception):
    """Start-up cannot go on; `lines` are ready to print, one per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """All settings. Field descriptions double as the README's settings table and the error hints."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- public contract: Slack -------------------------------------------------------------------
    slack_bot_token: str = Field(
        description="Bot token of the Slack app (`xoxb-...`, OAuth & Permissions page). Required."
    )
    slack_app_token: str | None = Field(
        default=None,
        description="App-level token (`xapp-...`, scope `connections:write`). Set it to use Socket Mode; "
        "leave it unset for HTTP mode.",
    )
    slack_signing_secret: str | None = Field(
        default=None,
        description="Signing secret of the Slack app (Basic Information page). Required in HTTP mode.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Base URL of Slack's Web API; point it at the Slack emulator for local runs.",
    )
    # --- public contract: Anthropic (the SDK reads these two itself too) --------------------------
    anthropic_api_key: str = Field(description="Anthropic API key (`sk-ant-...`). Required.")
    anthropic_base_url: str | None = Field(
        default=None, description="Base URL of the Anthropic API; point it at the emulator for local runs."
    )
    # --- public contract: storage and HTTP --------------------------------------------------------
    database_url: str = Field(
        default="sqlite+aiosqlite:///./data/bot.db",
        description="SQLAlchemy async URL: `sqlite+aiosqlite:///path.db` (default, one replica) or "
        "`postgresql+asyncpg://user:pass@host/db` (several replicas).",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="HTTP port: `/slack/events` in HTTP mode, plus `/healthz`, `/readyz` and `/metrics` "
        "(with `METRICS_TOKEN`). Defaults to 3000 in HTTP mode; in Socket Mode the HTTP server runs only "
        "when it is set.",
    )

    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve `/metrics` (with `/healthz` and `/readyz`) without a token on this port of "
        "`METRICS_HOST`. On `PORT`, `/metrics` needs `METRICS_TOKEN`.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address `METRICS_PORT` listens on (`0.0.0.0` for every interface)."
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token for `/metrics` on `PORT` (`Authorization: Bearer <token>`); without it "
        "`/metrics` is not served on `PORT`.",
    )

    # --- Claude ----------------------------------------------------------------------------------
    claude_model: str = Field(
        default=DEFAULT_MODEL, description="Claude model; it must support the code execution tool."
    )
    code_execution_tool: Literal["code_execution_20260120", "code_execution_20260521"] = Field(
        default="code_execution_20260120",
        description="Code execution tool version (both keep the Python REPL between turns).",
    )
    max_output_tokens: int = Field(
        default=16000, ge=256, le=128000, description="`max_tokens` of each model response."
    )
    context_budget_tokens: int = Field(
        default=150_000,
        ge=10_000,
        description="When a thread's history grows past this many (estimated) tokens, old code outputs "
        "are dropped from what Claude sees, and the thread is told.",
    )
    anthropic_max_retries: int = Field(
        default=4,
        ge=0,
        le=10,
        description="Retries of a failed Anthropic request (429, 529, 5xx, timeouts) before its answer "
        "started; an answer that breaks off later is continued, not asked again.",
    )
    anthropic_timeout_seconds: float = Field(
        default=600.0, gt=0, description="Timeout of one Anthropic request."
    )
    turn_max_continuations: int = Field(
        default=30,
        ge=1,
        description="Most follow-up requests in one turn (`pause_turn`, tool results) before it stops.",
    )
    turn_max_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Longest a turn may run. When Anthropic asks the bot to wait longer than the turn has "
        "left, the turn ends at once with Retry and says when Claude is expected back.",
    )
    system_prompt_extra: str = Field(
        default="", description="Extra instructions appended to the system prompt (house rules)."
    )
    tools_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Python modules with extra tools Claude may call from its sandbox "
        "(each exposes `register(registry)`).",
    )

    data_sources_file: Path | None = Field(
        default=None,
        description="YAML file declaring read-only SQL data sources Claude's code may query "
        "(`sql_query`; see README, Company data).",
    )

    # --- The web and documents (bot/claude/request.py, bot/skills.py) ----------------------------
    web_search: bool = Field(
        default=False,
        description="Let Claude search the web (`web_search`; $10 per 1,000 searches). Its answers then cite "
        "their sources as numbered links, and sandbox time is not billed in turns that offer a web tool.",
    )
    web_fetch: bool = Field(
        default=False,
        description="Let Claude read web pages whose address is in the conversation (`web_fetch`: links "
        "people post, or search results).",
    )
    web_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Only these sites for web search and fetch (comma-separated, no `https://`; "
        "`example.com` includes its subdomains). Not with `WEB_BLOCKED_DOMAINS`.",
    )
    web_blocked_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Never these sites for web search and fetch (comma-separated, no `https://`). Not "
        "with `WEB_ALLOWED_DOMAINS`.",
    )
    anthropic_skills: Annotated[list[str], NoDecode] = Field(
        default=list(ANTHROPIC_SKILLS),
        description="Anthropic's Agent Skills loaded into every sandbox, so Claude makes real Excel, "
        "PowerPoint, Word and PDF files (comma-separated from xlsx, pptx, docx, pdf; empty for none).",
    )
    skills_dir: Path | None = Field(
        default=None,
        description="A folder of your own Agent Skills (one folder per skill, each with a `SKILL.md`): "
        "uploaded at start when they changed (or with `python -m bot skills sync`), pinned in "
        "`skills.lock.json` there, and loaded into every sandbox.",
    )

    # --- Per-channel assistants (bot/assistants/, `/claude config`) ------------------------------
    channel_models: Annotated[list[str], NoDecode] = Field(
        default=list(CHANNEL_MODELS),
        description="Models an admin may choose for a channel in `/claude config` (comma-separated; "
        "`CLAUDE_MODEL` is always offered). Each must support the code execution tool.",
    )
    channel_settings_reload_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How often each replica reloads the channels' settings from the database: a change "
        "made through another replica applies within this long (at once on the replica that took it).",
    )

    # --- Slack behaviour -------------------------------------------------------------------------
    slash_command: str = Field(default="/claude", description="Name of the slash command.")
    only_when_mentioned: bool = Field(
        default=False,
        description="Answer thread replies only when they mention the bot (otherwise every reply in a "
        "thread the bot is part of continues the conversation).",
    )
    slack_file_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra host names the bot token may be sent to when downloading files "
        "(`*.slack.com`, `*.slack-edge.com` and the host of `SLACK_API_URL` are always allowed).",
    )
    slack_rate_limits: Literal["tiers", "off"] = Field(
        default="tiers",
        description="`tiers` paces every Slack method at its documented rate with a burst (posts at 1 per "
        "second per channel), signs of life first, then final answers, live updates last, and slows down "
        "after a 429. `off` paces nothing and only obeys Slack's 429 + Retry-After: for workspaces with "
        "raised limits, and for load tests.",
    )
    stream_update_seconds: float = Field(
        default=1.0, ge=0.2, description="Least time between two updates of a live answer in one thread."
    )
    stream_max_seconds: float = Field(
        default=240.0,
        ge=1.0,
        le=290.0,
        description="A streamed answer goes on in a new message after this long: Slack stops taking "
        "appends to a stream about 5 minutes after it started.",
    )

    # --- Files -----------------------------------------------------------------------------------
    max_file_mb: float = Field(
        default=500.0, gt=0, le=500, description="Largest attachment taken into the sandbox, in MB (≤ 500)."
    )
    max_files_per_turn: int = Field(default=20, ge=1, description="Most attachments taken in per turn.")
    max_turn_mb: float = Field(default=1000.0, gt=0, description="Most attachment bytes per turn, in MB.")
    images_as_blocks: bool = Field(
        default=True,
        description="Also show attached images to Claude directly (not only as files), in the turn they "
        "are attached, within the API's limits.",
    )
    pdfs_as_blocks: bool = Field(
        default=True,
        description="Also show attached PDFs to Claude directly (not only as files), in the turn they are "
        "attached, within the API's page limit and the room left in the context budget.",
    )
    file_retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Delete a thread's Anthropic files (attachments, and files Claude made) this many days "
        "after they were stored; the conversation then says they were deleted. Unset keeps them as long as "
        "the thread's conversation (they are deleted when the thread is reset).",
    )
    tmp_dir: Path | None = Field(
        default=None, description="Where downloads are staged on their way through (default: system temp)."
    )
    spool_max_mb: float = Field(
        default=2048.0,
        gt=0,
        description="Most attachment bytes staged on disk at once, in MB (all turns together); a download "
        "waits for room past it.",
    )

    # --- Engine ----------------------------------------------------------------------------------
    max_concurrent_turns: int = Field(
        default=1000, ge=1, description="Most turns running at once in this process (across threads)."
    )
    lease_seconds: float = Field(
        default=30.0,
        ge=3,
        description="A thread's lease lasts this long without a heartbeat; a crashed replica's turn is "
        "resumed by another after at most this time.",
    )
    shutdown_grace_seconds: float = Field(
        default=8.0,
        gt=0,
        description="On SIGTERM, running turns get this long to reach the end of the model response they "
        "are receiving; then they are suspended and go on after the restart. Keep it below your "
        "orchestrator's kill timeout (Docker: 10 s, Kubernetes: terminationGracePeriodSeconds).",
    )
    prune_after_days: float = Field(
        default=7.0,
        gt=0,
        description="Processed-event keys and finished inbox rows older than this are pruned.",
    )

    # --- Who may use it (bot/governance/access.py) --------------------------------------------------
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Slack user ids (comma-separated) of the bot's admins: they see spend on the Home tab, "
        "change channel budgets, may start a new session in any thread, and are named in refusals.",
    )
    allowed_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Only these Slack user ids may use the bot (with `ALLOWED_USERGROUPS`); empty: everyone.",
    )
    allowed_usergroups: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Members of these user groups (`S...` ids) may use the bot; needs the `usergroups:read` scope.",
    )
    allowed_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The bot answers only in these channel ids; empty: in every channel it is in (DMs: `ALLOW_DMS`).",
    )
    allowed_teams: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other organisations' workspace ids (`T...`) whose people may use the bot in channels shared "
        "over Slack Connect.",
    )
    allow_dms: bool = Field(default=True, description="Answer direct messages and the Messages tab.")
    allow_guests: bool = Field(
        default=False, description="Let guests (multi- and single-channel guest accounts) use the bot."
    )
    allow_external_users: bool = Field(
        default=False,
        description="Let everyone from other organisations use the bot in Slack Connect channels "
        "(otherwise only `ALLOWED_TEAMS`).",
    )

    # --- What it may spend (bot/governance/budgets.py, pricing.py) -----------------------------------
    budget_user_daily_usd: float | None = Field(
        default=None, ge=0, description="Most one person may spend a day."
    )
    budget_user_monthly_usd: float | None = Field(
        default=None, ge=0, description="Most one person may spend a month."
    )
    budget_channel_daily_usd: float | None = Field(
        default=None, ge=0, description="Most one channel may spend a day (an admin can set it per channel)."
    )
    budget_channel_monthly_usd: float | None = Field(
        default=None,
        ge=0,
        description="Most one channel may spend a month (an admin can set it per channel).",
    )
    budget_workspace_daily_usd: float | None = Field(
        default=None, ge=0, description="Most the whole workspace may spend a day."
    )
    budget_workspace_monthly_usd: float | None = Field(
        default=None, ge=0, description="Most the whole workspace may spend a month."
    )
    spend_ceiling_hourly_usd: float | None = Field(
        default=None,
        ge=0,
        description="Circuit breaker: the most the workspace may spend in any 60 minutes; past it no request "
        "is sent until spend falls back.",
    )
    budget_timezone: str = Field(
        default="UTC", description="Time zone of budget days and months (IANA name)."
    )
    budget_warn_fraction: float = Field(
        default=0.2, ge=0, le=1, description="Tell people when less than this share of a budget is left."
    )
    model_prices: str = Field(
        default="",
        description='Price overrides, JSON: `{"claude-sonnet-5": {"input": 2, "output": 10, "cache_read": '
        "0.2}}` (USD per million tokens; fields input, output, cache_write_5m, cache_write_1h, cache_read).",
    )
    container_hour_usd: float = Field(
        default=0.05, ge=0, description="Price of an hour of code-execution sandbox time."
    )
    container_free_hours: float = Field(
        default=1550.0,
        ge=0,
        description="Sandbox hours Anthropic gives free each month (per organisation; set 0 if other apps use them).",
    )

    # --- Operations ------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(default="text", description="`json` for structured logs.")

    @field_validator(
        "tools_modules",
        "slack_file_hosts",
        "admins",
        "allowed_users",
        "allowed_usergroups",
        "allowed_channels",
        "allowed_teams",
        "web_allowed_domains",
        "web_blocked_domains",
        "anthropic_skills",
        "channel_models",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        if not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value or None

    @field_validator("slack_api_url", "anthropic_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("budget_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            budget_timezone(value)
        except (ValueError, KeyError) as exc:
            raise ValueError("must be an IANA time zone name such as UTC or Europe/Berlin") from exc
        return value

    @field_validator("model_prices")
    @classmethod
    def _prices(cls, value: str) -> str:
        if value.strip():
            try:
                overrides = json.loads(value)
                if not isinstance(overrides, dict):
                    raise ValueError("must be a JSON object of model names")
                with_overrides(overrides)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f'must be JSON like {{"claude-sonnet-5": {{"input": 2}}}}: {exc}') from exc
        return value

    @field_validator("web_allowed_domains", "web_blocked_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if "://" in domain or " " in domain:
                raise ValueError(f"{domain!r}: give domains without the scheme, like example.com")
        return value

    @field_validator("anthropic_skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in ANTHROPIC_SKILLS]
        if unknown:
            raise ValueError(
                f"unknown skill(s) {', '.join(unknown)}: choose from {', '.join(ANTHROPIC_SKILLS)}"
            )
        return value

    @field_validator("slash_command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.startswith("/") or len(value) < 2 or " " in value:
            raise ValueError("must look like /claude")
        return value

    @model_validator(mode="after")
    def _mode(self) -> Settings:
        if self.slack_app_token is None and not self.slack_signing_secret:
            raise ValueError(
                "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: set SLACK_APP_TOKEN (xapp-..., Socket Mode) or "
                "SLACK_SIGNING_SECRET (HTTP mode)"
            )
        if self.web_allowed_domains and self.web_blocked_domains:
            # The API refuses a web tool with both lists (web search and web fetch tool docs).
            raise ValueError(
                "WEB_ALLOWED_DOMAINS and WEB_BLOCKED_DOMAINS: set one or the other, not both (Anthropic "
                "refuses both lists at once)"
            )
        return self

    # --- derived values --------------------------------------------------------------------------
    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def http_port(self) -> int | None:
        """Port of the HTTP server, or None when it does not run (Socket Mode without PORT)."""
        if self.port is not None:
            return self.port
        return None if self.socket_mode else 3000

    @property
    def max_file_bytes(self) -> int:
        return min(int(self.max_file_mb * 1024 * 1024), FILES_API_MAX_BYTES)

    @property
    def max_turn_bytes(self) -> int:
        return int(self.max_turn_mb * 1024 * 1024)

    @property
    def slack_api_host(self) -> str:
        return urlsplit(self.slack_api_url).hostname or ""


class DatabaseSettings(BaseSettings):
    """Only the database, for `python -m bot migrate` (which must work without Slack or Anthropic keys)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = str(Settings.model_fields["database_url"].default)


class SkillsSettings(BaseSettings):
    """Only what `python -m bot skills sync` needs (no Slack tokens): Anthropic and the folder."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    anthropic_api_key: str
    anthropic_base_url: str | None = None
    skills_dir: Path | None = None


def env_name(field: str) -> str:
    return field.upper()


def load_settings(env_file: str | None = ".env") -> Settings:
    """Read the settings or raise `SettingsError` with one actionable line per problem."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines: list[str] = []
        for err in exc.errors():
            loc = err.get("loc") or ()
            if not loc:
                # A model-level rule: its message already names the variables.
                message = str(err.get("msg", "")).removeprefix("Value error, ")
                lines.append(f"Setting error: {message}")
                continue
            field = str(loc[0])
            info = Settings.model_fields.get(field)
            hint = info.description if info is not None and info.description else ""
            if err.get("type") == "missing":
                problem = "is not set"
            else:
                shown = (
                    ""
                    if "token" in field or "key" in field or "secret" in field
                    else f" ({redact_url(str(err.get('input')))!r})"
                )
                problem = f"is invalid{shown}: {str(err.get('msg', '')).removeprefix('Value error, ')}"
            lines.append(f"Setting error: {env_name(field)} {problem}. {hint}".rstrip())
        raise SettingsError(lines) from None


def data_dir_for(database_url: str) -> Path | None:
    """The directory a SQLite URL points into (created on start), or None for other databases."""
    prefix = "sqlite+aiosqlite:///"
    if not database_url.startswith(prefix):
        return None
    path = database_url[len(prefix) :]
    if not path or path == ":memory:":
        return None
    return Path(os.path.dirname(path) or ".")
