"""views.publish: the app's Home tab, one view per person (README "Home tab").

docs.slack.dev/reference/methods/views.publish: arguments `user_id`, `view` (a JSON-encoded string or,
from the SDK, an object) and `hash`; no scope; Tier 4; answers the published view. A home view is
`{"type": "home", "blocks": [...]}` with at most 100 blocks (docs.slack.dev/reference/views/
home-tab-views). Errors: `invalid_arguments` with `response_metadata.messages` naming the field, as
the method's docs show for an unknown `user_id` and slackapi/node-slack-sdk#925 for a bad view type;
`not_enabled` when the app has no Home tab; `hash_conflict` for a stale `hash`; `view_too_large` past
250 kB (the method's error table). Images in a view follow the chat rules (images.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .api_base import BOT_ONLY, ApiCall, ApiError, MethodSpec
from .blocks import ensure_block_ids
from .constants import APP_ID, BOT_ID, MAX_SECTION_TEXT, TEAM_ID
from .images import image_error
from .models import JSON, HomeView

if TYPE_CHECKING:
    from .core import Core

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250 * 1024
TEXT_LIMITS = {"header": 150, "section": MAX_SECTION_TEXT}


def _invalid(message: str) -> ApiError:
    return ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _view_error(core: Core, view: Any, poster: str) -> str | None:
    if not isinstance(view, dict):
        return "invalid `view`"
    if view.get("type") != "home":
        return "must be a valid enum value [json-pointer:/view/type]"
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return "missing required field: blocks [json-pointer:/view]"
    if len(blocks) > MAX_VIEW_BLOCKS:
        return f"no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not block.get("type"):
            return f"missing required field: type [json-pointer:/view/blocks/{i}]"
        limit = TEXT_LIMITS.get(str(block["type"]))
        text = block.get("text")
        if limit is not None and isinstance(text, dict) and len(str(text.get("text", ""))) > limit:
            return f"must be less than {limit + 1} characters [json-pointer:/view/blocks/{i}/text]"
    return image_error(core, blocks, poster, "/view/blocks")


def view_json(core: Core, view: HomeView) -> JSON:
    return {
        "id": view.id,
        "team_id": TEAM_ID,
        "type": "home",
        "blocks": view.blocks,
        "private_metadata": view.private_metadata,
        "callback_id": view.callback_id,
        "state": {"values": {}},
        "hash": view.hash,
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view.id,
        "previous_view_id": None,
        "app_id": APP_ID,
        "external_id": view.external_id,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }


async def publish(core: Core, call: ApiCall) -> JSON:
    user_id = call.params.text("user_id")
    if user_id is None or user_id not in core.ws.users or core.ws.users[user_id].is_bot:
        raise _invalid("invalid `user_id`")
    view = call.params.structured("view", "invalid_arguments")
    if view is None:
        raise _invalid("missing required field: view")
    if len(json.dumps(view)) > MAX_VIEW_BYTES:
        raise ApiError("view_too_large")
    if (problem := _view_error(core, view, call.principal)) is not None:
        raise _invalid(problem)
    if not core.settings.home_tab_enabled:
        raise ApiError("not_enabled")
    current = core.ws.home_views.get(user_id)
    expected = call.params.text("hash")
    if expected is not None and current is not None and expected != current.hash:
        raise ApiError("hash_conflict")
    published = HomeView(
        id=current.id if current is not None else core.ids.slack_id("V"),
        hash=f"{int(core.now())}.{core.ids.digits(8)}",
        blocks=ensure_block_ids(list(view["blocks"]), core.ids.block_id),
        private_metadata=str(view.get("private_metadata") or ""),
        callback_id=str(view.get("callback_id") or ""),
        external_id=str(view.get("external_id") or ""),
        published_at=core.now(),
    )
    core.ws.home_views[user_id] = published
    core.notify()
    return {"ok": True, "view": view_json(core, published)}


METHODS: dict[str, MethodSpec] = {
    "views.publish": MethodSpec(publish, (), token_kinds=BOT_ONLY, channel_param=None),
}
