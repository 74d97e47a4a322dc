"""A faithful local emulator of Slack (Web API, Socket Mode, HTTP delivery, files) for tests.

Usage::

    from emulators.slack import SlackEmulator

    async with SlackEmulator() as slack:
        ...  # point the bot at slack.api_url / slack.bot_token / slack.app_token

See README.md in this package for the API and the list of what is NOT modelled.
"""

from .constants import DEFAULT_BOT_SCOPES
from .models import (
    CallRecord,
    ConnectionRecord,
    DownloadRecord,
    Envelope,
    ResponseUrlPost,
    StatusEntry,
    TaskCard,
)
from .server import SlackEmulator
from .side_effects import SpecialMention, Unfurl
from .view import ViewFile, ViewMessage

__all__ = [
    "DEFAULT_BOT_SCOPES",
    "CallRecord",
    "ConnectionRecord",
    "DownloadRecord",
    "Envelope",
    "ResponseUrlPost",
    "SlackEmulator",
    "SpecialMention",
    "StatusEntry",
    "TaskCard",
    "Unfurl",
    "ViewFile",
    "ViewMessage",
]
