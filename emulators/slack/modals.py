"""Modals: trigger ids, views.open / views.update, and a person submitting or closing a modal.

Trigger ids (docs.slack.dev/interactivity/handling-user-interaction, "trigger_id"; the Bolt guides:
"Pass a valid trigger_id within 3 seconds of receiving it") come with every slash command and
button press; one opens one modal, within TRIGGER_TTL_S of the interaction. views.open answers
`invalid_trigger_id` for an id Slack never issued, `expired_trigger_id` past 3 s and
`exchanged_trigger_id` for one used already (the method's error table). The docs do not say
whether a call refused for its view uses the trigger up: the strictest reading is taken, and any
call that names a live trigger exchanges it. A person sees one modal at a time: a new views.open
replaces the one they had (the docs are silent; a stack needs views.push, not emulated).

Submitting sends a `view_submission` interactive payload (docs.slack.dev/reference/
interaction-payloads/view-interactions-payload) with the view's full `state.values` (changelog
2020-09, "full state on view submission"): for every stateful element, by `block_id` and
`action_id`. Slack's client refuses to submit an empty required input (`optional: false`) or a
text shorter than its `min_length`: the emulator raises `ModalRefused` instead of sending anything.
The app acknowledges within 3 s; its ack may carry `response_action` (docs.slack.dev/surfaces/
modals, "Responding to view submissions"): `errors` (keyed by input `block_id`s; the modal stays
open, showing them), `update` (a new view in place), `clear` (every view closed); an empty ack
closes the modal. Closing with Cancel sends `view_closed` only when the view set
`notify_on_close` (same payload reference).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .api_base import BOT_ONLY, ApiCall, ApiError, MethodSpec
from .blocks import ensure_block_ids
from .constants import APP_ID, BOT_ID, TEAM_ID
from .modal_check import INPUT_ELEMENTS, modal_error
from .models import JSON
from .payloads import interactive_fields

if TYPE_CHECKING:
    from .core import Core

TRIGGER_TTL_S = 3.0
MAX_VIEW_BYTES = 250 * 1024  # `view_too_large` (views.open error table)
SubmittedValue = str | list[str] | None
_SINGLE = {"users_select": "user", "conversations_select": "conversation", "channels_select": "channel"}
_MULTI = {
    "multi_users_select": "users",
    "multi_conversations_select": "conversations",
    "multi_channels_select": "channels",
}


class ModalRefused(ValueError):
    """Slack's client would not send this submission (a required field is empty, a text too short)."""


@dataclass
class Trigger:
    id: str
    user: str
    created_at: float
    exchanged: bool = False


@dataclass
class Modal:
    """A modal as the person sees it: the app's view, and the errors shown under its inputs."""

    id: str
    user: str
    view: JSON
    hash: str
    opened_at: float
    errors: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    @property
    def title(self) -> str:
        return str((self.view.get("title") or {}).get("text", ""))

    @property
    def blocks(self) -> list[JSON]:
        return list(self.view.get("blocks") or [])

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata") or "")


def _stateful(blocks: list[JSON]) -> Iterator[tuple[str, JSON, bool]]:
    """(block_id, element, required) of every element whose value a submission carries."""
    for block in blocks:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield str(block["block_id"]), block["element"], not block.get("optional", False)
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            if block["accessory"].get("type") in INPUT_ELEMENTS:
                yield str(block["block_id"]), block["accessory"], False
        elif block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") in INPUT_ELEMENTS:
                    yield str(block["block_id"]), element, False


def _option(element: JSON, value: str) -> JSON:
    for option in element.get("options") or []:
        if option.get("value") == value:
            return dict(option)
    offered = [o.get("value") for o in element.get("options") or []]
    raise LookupError(f"{element.get('action_id')!r} offers no option {value!r}; offered: {offered}")


def element_state(element: JSON, given: SubmittedValue, *, was_given: bool) -> JSON:
    """One element's entry in `state.values`: what the person chose, else the element's initial value."""
    kind = str(element["type"])
    state: JSON = {"type": kind}
    if kind in ("static_select", "radio_buttons"):
        if was_given:
            state["selected_option"] = _option(element, str(given)) if given else None
        else:
            state["selected_option"] = element.get("initial_option")
    elif kind in ("multi_static_select", "checkboxes"):
        if was_given:
            chosen = given if isinstance(given, list) else [given] if given else []
            state["selected_options"] = [_option(element, str(v)) for v in chosen]
        else:
            state["selected_options"] = list(element.get("initial_options") or [])
    elif kind in _SINGLE:
        name = _SINGLE[kind]
        state[f"selected_{name}"] = given if was_given else element.get(f"initial_{name}")
    elif kind in _MULTI:
        name = _MULTI[kind]
        state[f"selected_{name}"] = (
            list(given or []) if was_given else list(element.get(f"initial_{name}") or [])
        )
    elif kind == "datepicker":
        state["selected_date"] = given if was_given else element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = given if was_given else element.get("initial_time")
    else:  # text and number inputs
        value = given if was_given else element.get("initial_value")
        state["value"] = None if value in (None, "") else str(value)
    return state


def _empty(state: JSON) -> bool:
    return all(v in (None, [], "") for k, v in state.items() if k != "type")


class Modals:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.triggers: dict[str, Trigger] = {}
        self.open: dict[str, Modal] = {}  # by user
        self.by_id: dict[str, Modal] = {}
        self.submissions: list[JSON] = []  # every view_submission payload sent

    def issue_trigger(self, user: str) -> str:
        trigger = Trigger(self.core.ids.trigger_id(), user, self.core.now())
        self.triggers[trigger.id] = trigger
        return trigger.id

    def _new_hash(self) -> str:
        return f"{int(self.core.now())}.{self.core.ids.hex(8)}"

    def _checked_view(self, call: ApiCall) -> JSON:
        view = call.params.structured("view", "invalid_arguments")
        if view is None:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]}
            )
        if len(json.dumps(view)) > MAX_VIEW_BYTES:
            raise ApiError("view_too_large")
        problem = modal_error(view)
        if problem is not None:
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {problem}"]})
        return {**view, "blocks": ensure_block_ids(list(view["blocks"]), self.core.ids.block_id)}

    async def views_open(self, core: Core, call: ApiCall) -> JSON:
        trigger_id = call.params.text("trigger_id") or call.params.text("interactivity_pointer")
        if trigger_id is None:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] missing trigger_id"]}
            )
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.exchanged:
            raise ApiError("exchanged_trigger_id")
        if core.now() - trigger.created_at > TRIGGER_TTL_S:
            raise ApiError("expired_trigger_id")
        trigger.exchanged = True
        view = self._checked_view(call)
        previous = self.open.get(trigger.user)
        if previous is not None:
            previous.closed = True
        modal = Modal(core.ids.slack_id("V"), trigger.user, view, self._new_hash(), core.now())
        self.open[trigger.user] = modal
        self.by_id[modal.id] = modal
        core.notify()
        return {"ok": True, "view": self.view_json(modal)}

    async def views_update(self, core: Core, call: ApiCall) -> JSON:
        view_id = call.params.text("view_id")
        external_id = call.params.text("external_id")
        if view_id is None and external_id is None:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing view_id"]})
        modal = self.by_id.get(view_id or "") or next(
            (m for m in self.by_id.values() if external_id and m.view.get("external_id") == external_id), None
        )
        if modal is None or modal.closed:
            raise ApiError("not_found")
        expected = call.params.text("hash")
        if expected is not None and expected != modal.hash:
            raise ApiError("hash_conflict")
        modal.view = self._checked_view(call)
        modal.hash = self._new_hash()
        modal.errors = {}
        core.notify()
        return {"ok": True, "view": self.view_json(modal)}

    def view_json(self, modal: Modal, state: JSON | None = None) -> JSON:
        view = modal.view
        return {
            "id": modal.id,
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": modal.blocks,
            "private_metadata": modal.private_metadata,
            "callback_id": modal.callback_id,
            "state": {"values": state or {}},
            "hash": modal.hash,
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": modal.id,
            "app_id": APP_ID,
            "external_id": str(view.get("external_id") or ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }

    # ---------------------------------------------------------------- the person
    def current(self, user: str) -> Modal | None:
        modal = self.open.get(self.core.ws.resolve_user(user).id)
        return modal if modal is not None and not modal.closed else None

    def _state(self, modal: Modal, values: Mapping[str, SubmittedValue]) -> JSON:
        state: JSON = {}
        unused = set(values)
        for block_id, element, required in _stateful(modal.blocks):
            action_id = str(element.get("action_id"))
            key = block_id if block_id in values else action_id if action_id in values else None
            unused.discard(key or "")
            entry = element_state(element, values.get(key) if key else None, was_given=key is not None)
            if required and _empty(entry):
                raise ModalRefused(f"Slack's client: 'Please complete this required field.' ({block_id})")
            text = entry.get("value")
            if isinstance(text, str) and len(text) < int(element.get("min_length") or 0):
                raise ModalRefused(
                    f"Slack's client: {block_id} needs at least {element['min_length']} characters"
                )
            if isinstance(text, str) and element.get("max_length") and len(text) > int(element["max_length"]):
                raise ModalRefused(
                    f"Slack's client: {block_id} takes at most {element['max_length']} characters"
                )
            state.setdefault(block_id, {})[action_id] = entry
        if unused:
            raise LookupError(f"no input with block_id or action_id {sorted(unused)} in the modal")
        return state

    async def submit(self, user: str, values: Mapping[str, SubmittedValue]) -> JSON:
        """The person fills in `values` (by block_id or action_id; others keep their initial value)
        and presses Submit. Returns the app's ack payload."""
        core = self.core
        person = core.ws.resolve_user(user)
        modal = self.current(person.id)
        if modal is None:
            raise LookupError(f"{person.id} has no modal open")
        state = self._state(modal, values)
        payload: JSON = {
            **interactive_fields(person, "view_submission"),
            "trigger_id": self.issue_trigger(person.id),
            "view": self.view_json(modal, state),
            "response_urls": [],
        }
        self.submissions.append(payload)
        envelope = await core.events.deliver("interactive", payload)
        await core.interactions.await_ack(envelope, "view_submission")
        ack = dict(envelope.ack_payload or {})
        self._after_ack(modal, ack)
        core.notify()
        return ack

    def _after_ack(self, modal: Modal, ack: JSON) -> None:
        action = ack.get("response_action")
        if action == "errors":
            errors = ack.get("errors")
            input_ids = {str(b.get("block_id")) for b in modal.blocks if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors or not set(errors) <= input_ids:
                raise AssertionError(
                    f"response_action errors must name input block_ids {sorted(input_ids)}: {errors}"
                )
            modal.errors = {str(k): str(v) for k, v in errors.items()}
        elif action == "update":
            problem = modal_error(ack.get("view"))
            if problem is not None:
                raise AssertionError(f"response_action update with a view Slack refuses: {problem}")
            modal.view = {
                **ack["view"],
                "blocks": ensure_block_ids(list(ack["view"]["blocks"]), self.core.ids.block_id),
            }
            modal.hash, modal.errors = self._new_hash(), {}
        elif action in (None, "clear"):
            modal.closed = True
        else:
            raise AssertionError(f"response_action {action!r} is not emulated")

    async def close(self, user: str) -> None:
        """The person presses Cancel (or the X): `view_closed` if the view asked to be told."""
        core = self.core
        person = core.ws.resolve_user(user)
        modal = self.current(person.id)
        if modal is None:
            raise LookupError(f"{person.id} has no modal open")
        modal.closed = True
        core.notify()
        if modal.view.get("notify_on_close"):
            payload: JSON = {
                **interactive_fields(person, "view_closed"),
                "view": self.view_json(modal),
                "is_cleared": False,
            }
            envelope = await core.events.deliver("interactive", payload)
            await core.interactions.await_ack(envelope, "view_closed")


async def _views_open(core: Core, call: ApiCall) -> JSON:
    return await core.modals.views_open(core, call)


async def _views_update(core: Core, call: ApiCall) -> JSON:
    return await core.modals.views_update(core, call)


METHODS: dict[str, MethodSpec] = {
    "views.open": MethodSpec(_views_open, (), token_kinds=BOT_ONLY, channel_param=None),
    "views.update": MethodSpec(_views_update, (), token_kinds=BOT_ONLY, channel_param=None),
}
