"""Fixed identities and documented Slack limits used across the emulator.

The IDs match `tests/fixtures/slack/` (team `T0123ABCD`, app `A0123ABCD`, bot user `U0BOT1234`, bot
`B0BOT1234`, human `U0123ABCD`, channel `C0123ABCD`) so that fixtures and emulator output can be compared
key for key.
"""

from __future__ import annotations

from typing import Final

TEAM_ID: Final = "T0123ABCD"
TEAM_NAME: Final = "Acme Corp"
TEAM_DOMAIN: Final = "acme"
WORKSPACE_URL: Final = "https://acme.slack.com/"

APP_ID: Final = "A0123ABCD"
BOT_USER_ID: Final = "U0BOT1234"
BOT_ID: Final = "B0BOT1234"
BOT_NAME: Final = "coderunner"
BOT_PROFILE_UPDATED: Final = 1732100000

# A second, unrelated app's bot: its messages must NOT be dropped by Bolt's self-ignore (§2.6).
OTHER_BOT_USER_ID: Final = "U0HELPER1"
OTHER_BOT_ID: Final = "B0HELPER1"
OTHER_APP_ID: Final = "A0HELPER1"
OTHER_BOT_NAME: Final = "helperbot"

GENERAL_CHANNEL_ID: Final = "C0123ABCD"
RANDOM_CHANNEL_ID: Final = "C0RANDOM1"

# The Events API "verification token" (deprecated, but still in every payload; see fixtures).
VERIFICATION_TOKEN: Final = "vErIfIcAtIoNtOkEn1234567"

# (user id, handle, real name)
DEFAULT_HUMANS: Final = (
    ("U0123ABCD", "ana", "Ana Lima"),
    ("U0234BCDE", "ben", "Ben Okafor"),
    ("U0345CDEF", "chloe", "Chloé Martin"),
    ("U0456DEFG", "dev", "Dev Patel"),
)

DEFAULT_BOT_SCOPES: Final = frozenset(
    {
        "app_mentions:read",
        "assistant:write",
        "channels:history",
        "channels:read",
        "chat:write",
        "commands",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "im:write",
        "mpim:history",
        "mpim:read",
        "reactions:read",
        "reactions:write",
        "usergroups:read",
        "users:read",
    }
)
DEFAULT_APP_TOKEN_SCOPES: Final = frozenset({"connections:write"})

# Event subscriptions of the product's manifest (bot_events). `file_shared` and `reaction_added`
# exist in the emulator but are off by default, like an app that did not subscribe to them.
DEFAULT_SUBSCRIPTIONS: Final = frozenset(
    {
        "app_home_opened",
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    }
)

# §6: text is truncated beyond 40,000 chars (warning `message_truncated`), markdown_text and the
# cumulative text of markdown blocks are limited to 12,000 chars, 50 blocks per message.
MAX_TEXT_CHARS: Final = 40_000
MAX_MARKDOWN_CHARS: Final = 12_000
MAX_BLOCKS: Final = 50
MAX_SECTION_TEXT: Final = 3_000
MAX_SNIPPET_BYTES: Final = 1024 * 1024
MAX_ALT_TXT: Final = 1000
# Slack publishes no limit on file names; 255 bytes is what file systems take for one name, and the
# strictest plausible (README "Files").
MAX_FILE_NAME_BYTES: Final = 255

# §1.6 / §10.2: at most 10 simultaneous Socket Mode connections per app.
MAX_SOCKET_CONNECTIONS: Final = 10
# §10.2: unacked events_api envelopes are retried; Slack documents up to 3 retries.
MAX_EVENT_RETRIES: Final = 3

# §5.1: a thread status clears itself after two minutes without a reply.
STATUS_EXPIRY_S: Final = 120.0

# response_url: "up to 5 times within 30 minutes" (api.slack.com/interactivity/handling).
RESPONSE_URL_MAX_USES: Final = 5
RESPONSE_URL_TTL_S: Final = 30 * 60.0

BOT_ICONS: Final = {
    "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
    "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
    "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
}
