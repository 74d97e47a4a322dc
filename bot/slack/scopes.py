"""Which bot scopes the code needs, and why: the doctor compares them with what Slack granted, and a test
checks them against manifest.yaml and against every Web API call in the code."""

from __future__ import annotations

# Web API method -> bot scopes it needs (docs.slack.dev/reference/methods; slack-platform.md §7).
# conversations.* need the scope of the conversation type; the bot works in all four types.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "apps.connections.open": (),  # app-level token with connections:write, not a bot scope
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),  # the Stop button of a turn that ended
    "chat.postEphemeral": ("chat:write",),  # telling someone turned away why (bot/slack/access.py)
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    "assistant.threads.setStatus": ("chat:write",),  # chat:write suffices since 2026-03-05 (§5.1)
    "conversations.replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    # Finding a /claude question posted by a process that died (bot/slack/commands.py).
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.info": ("channels:read", "groups:read", "mpim:read"),  # never called for DMs
    "files.info": ("files:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.delete": ("files:write",),  # the Home tab chart a new one replaced
    "views.publish": (),  # the Home tab; no scope (docs.slack.dev/reference/methods/views.publish)
    "views.open": (),  # `/claude config`; no scope (docs.slack.dev/reference/methods/views.open)
    "usergroups.users.list": ("usergroups:read",),  # ALLOWED_USERGROUPS
    "reactions.add": ("reactions:write",),
    "users.info": ("users:read",),
    "users.list": ("users:read",),  # who is a guest, known before their first message
}

# Scopes needed to receive what the bot listens to.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_mention": ("app_mentions:read",),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "message.im": ("im:history",),
    "message.mpim": ("mpim:history",),
    "app_home_opened": (),  # the Home tab (and the Messages tab, which needs nothing)
}

OTHER_SCOPES = {
    # "Declaring an app as an agent adds the assistant:write scope to it" (docs.slack.dev/ai/agent-sessions):
    # the manifest's agent_view (the Messages tab and its suggested prompts) comes with it.
    "assistant:write": "the agent view (Messages tab)",
    "commands": "the slash command",
    "files:read": "downloading attachments (url_private_download)",
}


def required_scopes() -> set[str]:
    needed = {s for scopes in METHOD_SCOPES.values() for s in scopes}
    needed |= {s for scopes in EVENT_SCOPES.values() for s in scopes}
    return needed | set(OTHER_SCOPES)
