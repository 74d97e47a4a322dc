"""usergroups.users.list: who is in a user group (README "Guests and user groups").

docs.slack.dev/reference/methods/usergroups.users.list (via slack-ruby/slack-api-ref): argument
`usergroup` (required), scope `usergroups:read`, Tier 2, answer `{"ok": true, "users": [ids]}`
(@slack/web-api `UsergroupsUsersListResponse`), error `no_such_subteam` for an unknown group. A call
without `usergroup` answers `invalid_arguments` (undocumented; strictest plausible).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api_base import ApiCall, ApiError, MethodSpec
from .models import JSON

if TYPE_CHECKING:
    from .core import Core


async def users_list(core: Core, call: ApiCall) -> JSON:
    group_id = call.params.require("usergroup", "invalid_arguments")
    group = core.ws.usergroups.get(group_id)
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.members)}


METHODS: dict[str, MethodSpec] = {
    "usergroups.users.list": MethodSpec(users_list, ("usergroups:read",), channel_param=None),
}
