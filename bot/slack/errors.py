"""Slack API errors that come from a setup mistake, turned into one line for the person and one
for the operator's log (what to fix where)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explained:
    user: str
    operator: str


def explain(error: str, *, method: str, needed: str | None = None, bot_name: str = "the bot") -> Explained:
    if error == "not_in_channel":
        return Explained(
            f"I'm not a member of this channel, so I can't post here. Invite me with `/invite @{bot_name}`.",
            f"{method}: not_in_channel: invite the bot to the channel (/invite).",
        )
    if error == "missing_scope":
        scope = needed or "?"
        return Explained(
            f"I'm missing the Slack permission `{scope}`. Ask a workspace admin to add it and reinstall the app "
            "(the scopes are in the project's manifest.yaml).",
            f"{method}: missing_scope {scope}: add it under OAuth & Permissions (or re-create the app from "
            "manifest.yaml) and reinstall the app.",
        )
    if error == "channel_not_found":
        return Explained(
            "I can't see this conversation. If it is private, invite me to it first.",
            f"{method}: channel_not_found: the bot is not in this (private) conversation or it was deleted.",
        )
    if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
        return Explained(
            "My Slack token was rejected; ask whoever runs the bot to check SLACK_BOT_TOKEN.",
            f"{method}: {error}: SLACK_BOT_TOKEN is wrong, revoked or from another workspace; copy the Bot "
            "User OAuth Token (xoxb-...) from OAuth & Permissions.",
        )
    if error == "ratelimited":
        return Explained(
            "Slack is rate limiting me right now; try again in a minute.",
            f"{method}: still rate limited after retries.",
        )
    return Explained(
        f"Slack refused `{method}` ({error}).",
        f"{method}: {error}.",
    )


def explain_exception(exc: SlackApiError, method: str, bot_name: str = "the bot") -> Explained:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    explained = explain(
        str(data.get("error", "unknown")), method=method, needed=data.get("needed"), bot_name=bot_name
    )
    log.error("Slack call failed: %s", explained.operator)
    return explained


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error", "unknown"))


# What a Web API call raises when it fails: Slack's answer, or the connection (after the SDK's retries).
CallFailed = (SlackApiError, aiohttp.ClientError, TimeoutError)


def failure(exc: BaseException) -> str:
    """Slack's error code, or what went wrong with the connection."""
    return error_code(exc) if isinstance(exc, SlackApiError) else repr(exc)
