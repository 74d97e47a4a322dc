"""The `/claude config` modal and a channel's assistant: built, read back, applied (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.assistants.channel import ChannelAssistant
from bot.assistants.presets import PRESETS
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY
from bot.model import SkillRef, TurnOptions, WebAccess
from bot.slack.assistant_modal import Choices, build_modal, channel_of, parse_submission
from bot.slack.assistant_text import assistant_text
from emulators.slack.modal_check import modal_error
from emulators.slack.modals import element_state

CHOICES = Choices(
    models=("claude-opus-5", "claude-haiku-5-5"),
    default_model="claude-sonnet-5",
    sources=(("sales", "Sales by region"), ("hr", "Headcount")),
    skills=(("xlsx", "Excel"), ("pptx", "PowerPoint")),
    budget_daily=10.0,
)
SKILLS = (SkillRef("anthropic", "xlsx", "latest", "xlsx"), SkillRef("anthropic", "pptx", "latest", "pptx"))


def submitted(view: dict[str, Any], answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """`state.values` as Slack sends them: each input's initial value unless `answers` names it."""
    answers = answers or {}
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        bid, element = block["block_id"], block["element"]
        given = answers.get(bid)
        values[bid] = {element["action_id"]: element_state(element, given, was_given=bid in answers)}
    return values


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"preset": "sql", "persona": "p" * 3000, "model": "claude-opus-5", "web_search": True},
        {"data_sources": [], "skills": ["pptx"], "needs_mention": True, CHANNEL_DAILY: 2.5},
    ],
)
@pytest.mark.parametrize("choices", [CHOICES, Choices(models=(), default_model="claude-sonnet-5")])
def test_the_modal_is_one_slack_accepts(stored: dict[str, Any], choices: Choices) -> None:
    view = build_modal("C1", stored, choices)
    assert modal_error(view) is None
    assert channel_of(view) == "C1"
    ids = [b.get("block_id") for b in view["blocks"]]
    assert ("sources" in ids) == bool(choices.sources) and ("skills" in ids) == bool(choices.skills)


def test_saving_unchanged_defaults_stores_nothing() -> None:
    view = build_modal("C1", {}, CHOICES)
    parsed = parse_submission(submitted(view), {}, CHOICES)
    assert parsed.errors == {}
    assert {k: v for k, v in parsed.changes.items() if v is not None} == {}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"model": "claude-opus-5"}, {"model": "claude-opus-5"}),
        ({"persona": "  Amounts are in EUR. "}, {"persona": "Amounts are in EUR."}),
        ({"web": ["web_fetch"]}, {"web_fetch": True}),
        ({"sources": ["sales"]}, {"data_sources": ["sales"]}),
        ({"sources": []}, {"data_sources": []}),
        ({"skills": ["xlsx", "pptx"]}, {}),
        ({"budget_daily": "$12.50", "budget_monthly": "200"}, {CHANNEL_DAILY: 12.5, CHANNEL_MONTHLY: 200.0}),
        ({"mention": ["mention"]}, {"needs_mention": True}),
        # A new persona with the web boxes left alone brings the web tools it suggests...
        ({"preset": "report"}, {"preset": "report", "web_search": True, "web_fetch": True}),
        # ... unless the admin chose them.
        ({"preset": "report", "web": ["web_search"]}, {"preset": "report", "web_search": True}),
        ({"preset": "sql"}, {"preset": "sql"}),
    ],
)
def test_what_a_submission_stores(answers: dict[str, Any], expected: dict[str, Any]) -> None:
    view = build_modal("C1", {}, CHOICES)
    parsed = parse_submission(submitted(view, answers), {}, CHOICES)
    assert parsed.errors == {}
    assert {k: v for k, v in parsed.changes.items() if v is not None} == expected


def test_going_back_to_the_defaults_removes_the_channels_own_settings() -> None:
    stored = {
        "preset": "report",
        "web_search": True,
        "web_fetch": True,
        "model": "claude-opus-5",
        CHANNEL_DAILY: 3.0,
    }
    view = build_modal("C1", stored, CHOICES)
    answers = {"preset": "default", "model": "claude-sonnet-5", "budget_daily": ""}
    parsed = parse_submission(submitted(view, answers), stored, CHOICES)
    assert parsed.errors == {}
    assert all(
        parsed.changes[k] is None for k in ("preset", "web_search", "web_fetch", "model", CHANNEL_DAILY)
    )


@pytest.mark.parametrize(
    ("answers", "block"),
    [
        ({"budget_daily": "twenty"}, "budget_daily"),
        ({"budget_monthly": "-5"}, "budget_monthly"),
        ({"budget_daily": "12.555"}, "budget_daily"),
        ({"budget_daily": "2000000"}, "budget_daily"),
    ],
)
def test_invalid_input_is_shown_under_its_field(answers: dict[str, Any], block: str) -> None:
    view = build_modal("C1", {}, CHOICES)
    parsed = parse_submission(submitted(view, answers), {}, CHOICES)
    assert set(parsed.errors) == {block} and parsed.changes == {}


def test_a_model_not_offered_is_refused() -> None:
    view = build_modal("C1", {}, CHOICES)
    values = submitted(view)
    values["model"]["value"]["selected_option"] = {"value": "claude-gpt"}
    assert set(parse_submission(values, {}, CHOICES).errors) == {"model"}


def test_a_channel_assistant_shapes_the_turn_options() -> None:
    base = TurnOptions(web=WebAccess(search=False, fetch=True), skills=SKILLS, model="claude-sonnet-5")
    assert ChannelAssistant.of({}).options(base, SKILLS) == base
    assistant = ChannelAssistant.of(
        {
            "preset": "sql",
            "persona": "EUR.",
            "model": "claude-opus-5",
            "web_fetch": False,
            "skills": ["pptx"],
            "data_sources": ["sales"],
        }
    )
    options = assistant.options(base, SKILLS)
    assert options.model == "claude-opus-5" and options.web == WebAccess(search=False, fetch=False)
    assert [s.name for s in options.skills] == ["pptx"] and options.data_sources == frozenset({"sales"})
    sql = next(p for p in PRESETS if p.key == "sql")
    assert sql.persona in options.persona and options.persona.endswith("EUR.")
    # A hand-edited row with values of the wrong type counts as unset.
    assert ChannelAssistant.of({"web_search": "yes", "skills": "pptx", "model": 3}) == ChannelAssistant()


def test_status_says_what_the_channel_has() -> None:
    text = assistant_text("C1", {"preset": "sql", "model": "claude-opus-5", CHANNEL_DAILY: 2.0}, CHOICES)
    assert "Terse SQL helper" in text and "`claude-opus-5`" in text and "$2.00 (set here)" in text
    assert "per month: none" in text and "answered without a mention" in text
    assert "deployment's defaults" in assistant_text("C1", {}, CHOICES)
