"""The `/claude config` modal: built from a channel's settings, read back from its submission (pure).

Block Kit limits that shape it (docs.slack.dev/reference/views/modal-views and the element pages):
title, submit and close at most 24 characters; radio buttons and checkboxes at most 10 options;
select menus at most 100; a plain_text_input at most 3,000 characters. Without `dispatch_action`,
picking a preset changes nothing in the open modal, so a preset's suggested web tools are applied on
submission: when the preset changed and the web boxes were left as they were.

What is stored is only what differs from the deployment's settings (a `None` change removes it), so
a channel follows the deployment wherever its admin did not choose otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.assistants import channel as keys
from bot.assistants.channel import ChannelAssistant
from bot.assistants.presets import PRESETS, preset
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY

CALLBACK_ID = "channel_assistant"
ACTION = "value"  # every input's action_id: the block_id says which one it is
MAX_PERSONA = 3000
MAX_BUDGET_USD = 1_000_000
MAX_OPTIONS = 100
_AMOUNT = re.compile(r"^\$?(\d{1,7}(?:\.\d{1,2})?)$")
WEB_OPTIONS = (
    (keys.WEB_SEARCH, "Web search", "Search the web ($10 per 1,000 searches)"),
    (keys.WEB_FETCH, "Web fetch", "Read web pages people link to"),
)
MENTION = "mention"
BUDGET_BLOCKS = {"budget_daily": CHANNEL_DAILY, "budget_monthly": CHANNEL_MONTHLY}


@dataclass(frozen=True)
class Choices:
    """What the deployment offers a channel, and its defaults."""

    models: tuple[str, ...]
    default_model: str
    sources: tuple[tuple[str, str], ...] = ()  # (name, description)
    skills: tuple[tuple[str, str], ...] = ()
    web_search: bool = False
    web_fetch: bool = False
    needs_mention: bool = False
    budget_daily: float | None = None  # dollars; None: no default budget
    budget_monthly: float | None = None

    @property
    def model_list(self) -> list[str]:
        return list(dict.fromkeys([self.default_model, *self.models]))[:MAX_OPTIONS]


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(value: str, text: str, description: str = "") -> dict[str, Any]:
    option: dict[str, Any] = {"text": _text(text[:75]), "value": value}
    if description:
        option["description"] = _text(description[:75])
    return option


def _input(
    block_id: str, label: str, element: dict[str, Any], *, hint: str = "", optional: bool = True
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {**element, "action_id": ACTION},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _multi(
    block_id: str, label: str, names: Sequence[tuple[str, str]], chosen: Sequence[str] | None, hint: str
) -> dict[str, Any]:
    options = [_option(n, n, about) for n, about in names][:MAX_OPTIONS]
    selected = [o for o in options if chosen is None or o["value"] in chosen]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "options": options,
        "placeholder": _text("None"),
    }
    if selected:
        element["initial_options"] = selected
    return _input(block_id, label, element, hint=hint)


def _dollars(value: float | None) -> str:
    return "none" if value is None else f"${value:,.2f}"


def build_modal(channel_id: str, stored: Mapping[str, Any], choices: Choices) -> dict[str, Any]:
    """The modal for a channel, showing what it has now (its own settings, else the deployment's)."""
    current = ChannelAssistant.of(stored)
    chosen_preset = preset(current.preset)
    presets = [_option(p.key, p.label, p.about) for p in PRESETS]
    models = [_option(m, f"{m} (default)" if m == choices.default_model else m) for m in choices.model_list]
    model = current.model if current.model in choices.model_list else choices.default_model
    web_on = {
        keys.WEB_SEARCH: choices.web_search if current.web_search is None else current.web_search,
        keys.WEB_FETCH: choices.web_fetch if current.web_fetch is None else current.web_fetch,
    }
    web_options = [_option(k, label, about) for k, label, about in WEB_OPTIONS]
    web: dict[str, Any] = {"type": "checkboxes", "options": web_options}
    if any(web_on.values()):
        web["initial_options"] = [o for o in web_options if web_on[o["value"]]]
    mention_option = _option(MENTION, "Answer thread replies only when they mention me")
    mention: dict[str, Any] = {"type": "checkboxes", "options": [mention_option]}
    if choices.needs_mention if current.needs_mention is None else current.needs_mention:
        mention["initial_options"] = [mention_option]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"How I work in <#{channel_id}>. Changes apply from the next question asked here; "
                "answers already running finish as they started.",
            },
        },
        _input(
            "preset",
            "Persona",
            {
                "type": "radio_buttons",
                "options": presets,
                "initial_option": next(o for o in presets if o["value"] == chosen_preset.key),
            },
            hint="Picking another persona also switches the web tools it suggests, unless you change them below.",
            optional=False,
        ),
        _input(
            "persona",
            "Extra instructions",
            {
                "type": "plain_text_input",
                "multiline": True,
                "max_length": MAX_PERSONA,
                "placeholder": _text("e.g. Our fiscal year starts in April. Amounts are in EUR."),
                **({"initial_value": current.persona} if current.persona else {}),
            },
            hint="Added to the persona's instructions for every question in this channel.",
        ),
        _input(
            "model",
            "Model",
            {
                "type": "static_select",
                "options": models,
                "initial_option": next(o for o in models if o["value"] == model),
            },
            optional=False,
        ),
        _input("web", "The web", web),
    ]
    if choices.sources:
        blocks.append(
            _multi(
                "sources",
                "Company data sources",
                choices.sources,
                current.data_sources,
                "The SQL sources Claude's code may query here.",
            )
        )
    if choices.skills:
        blocks.append(
            _multi(
                "skills",
                "Skills",
                choices.skills,
                current.skills,
                "The document skills loaded into this channel's sandboxes.",
            )
        )
    for block_id, name in BUDGET_BLOCKS.items():
        default = choices.budget_daily if name == CHANNEL_DAILY else choices.budget_monthly
        period = "day" if name == CHANNEL_DAILY else "month"
        own = stored.get(name)
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "max_length": 12,
            "placeholder": _text(f"Default: {_dollars(default)}"),
        }
        if isinstance(own, int | float):
            element["initial_value"] = f"{float(own):.2f}".removesuffix(".00")
        blocks.append(
            _input(block_id, f"Budget per {period} (US$)", element, hint="Empty: the deployment's default.")
        )
    blocks.append(_input("mention", "Thread replies", mention))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": _text("Channel assistant"),
        "submit": _text("Save"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def channel_of(view: Mapping[str, Any]) -> str | None:
    """The channel a submitted modal is about (its private_metadata)."""
    try:
        value = json.loads(str(view.get("private_metadata") or ""))
    except json.JSONDecodeError:
        return None
    channel = value.get("channel") if isinstance(value, dict) else None
    return channel if isinstance(channel, str) and channel else None


def _state(values: Mapping[str, Any], block_id: str) -> dict[str, Any]:
    entry = (values.get(block_id) or {}).get(ACTION)
    return entry if isinstance(entry, dict) else {}


def _selected(values: Mapping[str, Any], block_id: str) -> list[str] | None:
    """The values chosen in a multi-select or checkboxes; None when the block is not in the modal."""
    if block_id not in values:
        return None
    return [str(o.get("value")) for o in _state(values, block_id).get("selected_options") or []]


@dataclass(frozen=True)
class Submission:
    changes: dict[str, Any]  # setting -> value; None: back to the deployment's
    errors: dict[str, str]  # input block_id -> what is wrong (shown under it); empty: valid


def parse_submission(values: Mapping[str, Any], stored: Mapping[str, Any], choices: Choices) -> Submission:
    """What a submitted modal (`view.state.values`) asks to store, or what is wrong with it."""
    errors: dict[str, str] = {}
    current = ChannelAssistant.of(stored)
    changes: dict[str, Any] = {}

    picked = (_state(values, "preset").get("selected_option") or {}).get("value")
    new_preset = preset(str(picked) if picked else None)
    changes[keys.PRESET] = None if new_preset.key == PRESETS[0].key else new_preset.key

    persona = str(_state(values, "persona").get("value") or "").strip()
    if len(persona) > MAX_PERSONA:
        errors["persona"] = f"At most {MAX_PERSONA:,} characters, please."
    changes[keys.PERSONA] = persona or None

    model = (_state(values, "model").get("selected_option") or {}).get("value")
    if model not in choices.model_list:
        errors["model"] = "Pick one of the models offered."
    changes[keys.MODEL] = None if model == choices.default_model else model

    web = set(_selected(values, "web") or [])
    before = {
        keys.WEB_SEARCH: choices.web_search if current.web_search is None else current.web_search,
        keys.WEB_FETCH: choices.web_fetch if current.web_fetch is None else current.web_fetch,
    }
    untouched = web == {k for k, on in before.items() if on}
    if new_preset.key != preset(current.preset).key and untouched:
        # A new persona, web boxes left alone: the persona's suggestion (the default's is the deployment's).
        suggested = {keys.WEB_SEARCH: new_preset.web_search, keys.WEB_FETCH: new_preset.web_fetch}
        if new_preset.key == PRESETS[0].key:
            suggested = {keys.WEB_SEARCH: choices.web_search, keys.WEB_FETCH: choices.web_fetch}
        web = {k for k, on in suggested.items() if on}
    for name, default in ((keys.WEB_SEARCH, choices.web_search), (keys.WEB_FETCH, choices.web_fetch)):
        changes[name] = None if (name in web) == default else name in web

    for block_id, name, offered in (
        ("sources", keys.DATA_SOURCES, choices.sources),
        ("skills", keys.SKILLS, choices.skills),
    ):
        chosen = _selected(values, block_id)
        if chosen is None:
            continue
        unknown = [c for c in chosen if c not in {n for n, _ in offered}]
        if unknown:
            errors[block_id] = f"Not offered here: {', '.join(unknown)}."
        everything = {n for n, _ in offered} <= set(chosen)
        changes[name] = None if everything else sorted(chosen)

    for block_id, name in BUDGET_BLOCKS.items():
        text = str(_state(values, block_id).get("value") or "").strip().replace(",", "")
        if not text:
            changes[name] = None
            continue
        amount = _AMOUNT.match(text)
        if amount is None or float(amount.group(1)) > MAX_BUDGET_USD:
            errors[block_id] = (
                "Give an amount in dollars, like 20 or 12.50, or leave it empty for the default."
            )
        else:
            changes[name] = float(amount.group(1))

    mention = MENTION in (_selected(values, "mention") or [])
    changes[keys.NEEDS_MENTION] = None if mention == choices.needs_mention else mention
    return Submission({} if errors else changes, errors)
