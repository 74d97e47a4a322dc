"""What Slack refuses in a modal view (views.open / views.update), as `invalid_arguments` messages.

docs.slack.dev/reference/views/modal-views: `type` "modal"; `title` a plain_text of at most 24
characters (required); `close` and `submit` plain_text of at most 24; `submit` required when an
input block is present; at most 100 blocks; `private_metadata` at most 3000 characters;
`callback_id` at most 255. docs.slack.dev/reference/block-kit/blocks/input-block: an input block
needs a plain_text `label` (at most 2000 characters) and an `element`; `hint` plain_text (at most
2000); `block_id` at most 255 and unique in the view. Elements of input blocks need an `action_id`
(at most 255; the block's element docs: "should be unique among all other action_ids in the
containing block"). Select menus offer at most 100 options, checkboxes and radio buttons at most 10
(their element pages), each option a `text` and a `description` of at most 75 characters and a
`value` of at most 150 (docs.slack.dev/reference/block-kit/composition-objects/option-object); a
plain_text_input's `max_length` is at most 3000. The messages imitate the
JSON-pointer wording Slack returns for views (the `response_metadata.messages` of views.publish,
api_views.py); where the docs do not say which check comes first, the first problem found is named.
"""

from __future__ import annotations

from typing import Any

MAX_MODAL_BLOCKS = 100
MAX_BUTTON_TEXT = 24  # title, close, submit
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255  # callback_id, block_id, action_id
MAX_LABEL = 2000
MAX_SELECT_OPTIONS = 100
MAX_CHOICE_OPTIONS = 10  # checkboxes, radio_buttons
MAX_TEXT_INPUT = 3000
MAX_OPTION_TEXT = 75  # an option's text and description
MAX_OPTION_VALUE = 150
INPUT_ELEMENTS = {
    "plain_text_input",
    "number_input",
    "static_select",
    "multi_static_select",
    "checkboxes",
    "radio_buttons",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
    "datepicker",
    "timepicker",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
}


def _plain_text_error(value: Any, pointer: str, limit: int, *, required: bool) -> str | None:
    if value is None:
        parent, _, name = pointer.rpartition("/")
        return f"missing required field: {name} [json-pointer:{parent or '/'}]" if required else None
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        return f"must be a plain_text text object [json-pointer:{pointer}]"
    text = value.get("text")
    if not isinstance(text, str) or not text:
        return f"must be more than 0 characters [json-pointer:{pointer}/text]"
    if len(text) > limit:
        return f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"
    return None


def modal_error(view: Any) -> str | None:
    """The first reason Slack would refuse this modal view, or None."""
    if not isinstance(view, dict):
        return "invalid `view`"
    if view.get("type") != "modal":
        return "must be a valid enum value [json-pointer:/view/type]"
    for name, required in (("title", True), ("close", False), ("submit", False)):
        problem = _plain_text_error(view.get(name), f"/view/{name}", MAX_BUTTON_TEXT, required=required)
        if problem is not None:
            return problem
    metadata = view.get("private_metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > MAX_PRIVATE_METADATA):
        return (
            f"must be less than {MAX_PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]"
        )
    callback = view.get("callback_id")
    if callback is not None and (not isinstance(callback, str) or len(callback) > MAX_ID):
        return f"must be less than {MAX_ID + 1} characters [json-pointer:/view/callback_id]"
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return "missing required field: blocks [json-pointer:/view]"
    if len(blocks) > MAX_MODAL_BLOCKS:
        return f"no more than {MAX_MODAL_BLOCKS} items allowed [json-pointer:/view/blocks]"
    block_ids: set[str] = set()
    has_input = False
    for i, block in enumerate(blocks):
        pointer = f"/view/blocks/{i}"
        if not isinstance(block, dict) or not block.get("type"):
            return f"missing required field: type [json-pointer:{pointer}]"
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_ID:
                return f"must be less than {MAX_ID + 1} characters [json-pointer:{pointer}/block_id]"
            if block_id in block_ids:
                return f"duplicate block_id [json-pointer:{pointer}/block_id]"
            block_ids.add(block_id)
        if block["type"] == "input":
            has_input = True
            problem = _input_error(block, pointer)
            if problem is not None:
                return problem
    if has_input and view.get("submit") is None:
        return "missing required field: submit [json-pointer:/view]"
    return None


def _input_error(block: dict[str, Any], pointer: str) -> str | None:
    problem = _plain_text_error(block.get("label"), f"{pointer}/label", MAX_LABEL, required=True)
    problem = problem or _plain_text_error(block.get("hint"), f"{pointer}/hint", MAX_LABEL, required=False)
    if problem is not None:
        return problem
    element = block.get("element")
    if not isinstance(element, dict):
        return f"missing required field: element [json-pointer:{pointer}]"
    kind = element.get("type")
    if kind not in INPUT_ELEMENTS:
        return f"must be a valid enum value [json-pointer:{pointer}/element/type]"
    action_id = element.get("action_id")
    if not isinstance(action_id, str) or not action_id or len(action_id) > MAX_ID:
        return f"missing required field: action_id [json-pointer:{pointer}/element]"
    options = element.get("options")
    if kind in ("static_select", "multi_static_select", "checkboxes", "radio_buttons"):
        limit = MAX_SELECT_OPTIONS if kind.endswith("select") else MAX_CHOICE_OPTIONS
        if not isinstance(options, list) or not options:
            return f"missing required field: options [json-pointer:{pointer}/element]"
        if len(options) > limit:
            return f"no more than {limit} items allowed [json-pointer:{pointer}/element/options]"
        values = [o.get("value") for o in options if isinstance(o, dict)]
        if len(values) != len(options) or not all(isinstance(v, str) and v for v in values):
            return f"missing required field: value [json-pointer:{pointer}/element/options]"
        for j, option in enumerate(options):
            where = f"{pointer}/element/options/{j}"
            if len(str(option["value"])) > MAX_OPTION_VALUE:
                return f"must be less than {MAX_OPTION_VALUE + 1} characters [json-pointer:{where}/value]"
            for name in ("text", "description"):
                text = option.get(name)
                if text is None and name == "description":
                    continue
                if not isinstance(text, dict) or not isinstance(text.get("text"), str) or not text["text"]:
                    return f"missing required field: text [json-pointer:{where}/{name}]"
                if len(text["text"]) > MAX_OPTION_TEXT:
                    return f"must be less than {MAX_OPTION_TEXT + 1} characters [json-pointer:{where}/{name}/text]"
        initial = (
            [element["initial_option"]] if "initial_option" in element else element.get("initial_options", [])
        )
        for chosen in initial or []:
            if not isinstance(chosen, dict) or chosen.get("value") not in values:
                return f"must match one of the options [json-pointer:{pointer}/element/initial_option]"
    if kind == "plain_text_input":
        max_length = element.get("max_length")
        if max_length is not None and (
            not isinstance(max_length, int) or not 1 <= max_length <= MAX_TEXT_INPUT
        ):
            return f"must be less than {MAX_TEXT_INPUT + 1} [json-pointer:{pointer}/element/max_length]"
        initial_value = element.get("initial_value")
        if isinstance(initial_value, str) and isinstance(max_length, int) and len(initial_value) > max_length:
            return f"must be less than {max_length + 1} characters [json-pointer:{pointer}/element/initial_value]"
    return None
