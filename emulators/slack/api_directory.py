"""users.list and usergroups.users.list: who is in the workspace, and in a user group (README "Guests
and user groups").

users.list (docs.slack.dev/reference/methods/users.list, via slack-ruby/slack-api-ref): `cursor`,
`limit` (without one, the whole set), scope `users:read`, Tier 2; answers `members` (user objects, as
users.info gives them, guests with their flags) and `response_metadata.next_cursor`; `invalid_cursor`.
People from other organisations are not members of the workspace, so they are not listed (strictest
plausible: the method "Lists all users in a Slack team"). Cursors are opaque base64 of `user:<id>`,
as the docs' example (`dXNlcjpVMDYxTkZUVDI=`) is.

usergroups.users.list (docs.slack.dev/reference/methods/usergroups.users.list): argument `usergroup`
(required), scope `usergroups:read`, Tier 2, answer `{"ok": true, "users": [ids]}` (@slack/web-api
`UsergroupsUsersListResponse`), error `no_such_subteam` for an unknown group. A call without
`usergroup` answers `invalid_arguments` (undocumented; strictest plausible).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from .api_base import ApiCall, ApiError, MethodSpec
from .models import JSON
from .payloads import user_json

if TYPE_CHECKING:
    from .core import Core


def _cursor(user_id: str) -> str:
    return base64.b64encode(f"user:{user_id}".encode()).decode()


def _from_cursor(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    if not decoded.startswith("user:"):
        raise ApiError("invalid_cursor")
    return decoded.removeprefix("user:")


async def users_list(core: Core, call: ApiCall) -> JSON:
    members = [u for u in core.ws.users.values() if u.team_id is None]
    cursor = call.params.text("cursor")
    if cursor is not None:
        start = _from_cursor(cursor)
        ids = [u.id for u in members]
        if start not in ids:
            raise ApiError("invalid_cursor")
        members = members[ids.index(start) :]
    limit = call.params.number("limit", 0)
    page, rest = (members[:limit], members[limit:]) if limit > 0 else (members, [])
    return {
        "ok": True,
        "members": [user_json(u) for u in page],
        "cache_ts": int(core.now()),
        "response_metadata": {"next_cursor": _cursor(rest[0].id) if rest else ""},
    }


async def usergroup_members(core: Core, call: ApiCall) -> JSON:
    group_id = call.params.require("usergroup", "invalid_arguments")
    group = core.ws.usergroups.get(group_id)
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.members)}


METHODS: dict[str, MethodSpec] = {
    "users.list": MethodSpec(users_list, ("users:read",), channel_param=None),
    "usergroups.users.list": MethodSpec(usergroup_members, ("usergroups:read",), channel_param=None),
}
