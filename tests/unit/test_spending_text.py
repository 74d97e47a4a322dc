"""/claude usage and /claude budget: what they say, and how the budget command is read."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.governance.budgets import Limits, Period, Scope
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY
from bot.slack.spending_text import (
    BUDGET_USAGE,
    NAMES_NOT_IDS,
    BudgetRequest,
    budget_text,
    changed_text,
    is_budget_command,
    parse_budget,
    usage_text,
)

NOW = dt.datetime(2026, 12, 3, 15, 30, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", BudgetRequest(None, {})),
        ("<#C0123ABCD|data>", BudgetRequest("C0123ABCD", {})),
        ("C0123ABCD", BudgetRequest("C0123ABCD", {})),
        ("daily 20 monthly 200", BudgetRequest(None, {CHANNEL_DAILY: 20.0, CHANNEL_MONTHLY: 200.0})),
        ("<#C0123ABCD> Daily $12.50", BudgetRequest("C0123ABCD", {CHANNEL_DAILY: 12.5})),
        ("monthly off", BudgetRequest(None, {CHANNEL_MONTHLY: None})),
        ("daily 0", BudgetRequest(None, {CHANNEL_DAILY: 0.0})),
        ("<#G0123ABCD|secret> off", BudgetRequest("G0123ABCD", {CHANNEL_DAILY: None, CHANNEL_MONTHLY: None})),
        ("#data daily 20", NAMES_NOT_IDS),
        ("daily", BUDGET_USAGE),
        ("weekly 20", BUDGET_USAGE),
        ("daily 20 daily 30", BUDGET_USAGE),
        ("daily -5", "`-5` is not an amount of dollars (like `20` or `12.50`). " + BUDGET_USAGE),
        ("daily 1.234", "`1.234` is not an amount of dollars (like `20` or `12.50`). " + BUDGET_USAGE),
    ],
)
def test_parse_budget(text: str, expected: BudgetRequest | str) -> None:
    assert parse_budget(text.split()) == expected


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", True),
        ("daily 20", True),
        ("off", True),
        ("<#C1234567>", True),
        ("#data", True),
        ("forecast for Q3?", False),
    ],
)
def test_budget_questions_are_questions(text: str, command: bool) -> None:
    assert is_budget_command(text.split()) is command


def test_usage_against_budgets_and_without() -> None:
    limits = Limits({(Scope.USER, Period.DAY): 5_000_000, (Scope.CHANNEL, Period.DAY): 20_000_000})
    spent = {
        (Scope.USER, Period.DAY): 420_000,
        (Scope.USER, Period.MONTH): 3_100_000,
        (Scope.CHANNEL, Period.DAY): 1_200_000,
    }
    text = usage_text(spent, limits, channel_id="C1", now=NOW, tz=dt.UTC, ask="<@U_ADMIN>")
    assert text.splitlines() == [
        "*What you have spent on Claude*",
        "• Today: $0.42 of $5.00 (8%); your daily budget renews Fri 04 Dec, 00:00 UTC",
        "• This month: $3.10 (no monthly budget)",
        "• In <#C1> today: $1.20 of $20.00 (6%)",
        "Budgets count days and months in UTC. Ask <@U_ADMIN> if you need more.",
    ]


def test_a_channels_budgets_say_whether_an_admin_set_them() -> None:
    defaults = Limits({(Scope.CHANNEL, Period.DAY): 10_000_000})
    spent = {(Scope.CHANNEL, Period.DAY): 1_500_000, (Scope.CHANNEL, Period.MONTH): 4_000_000}
    text = budget_text("C1", {CHANNEL_MONTHLY: 200}, defaults, spent)
    assert text.splitlines() == [
        "*Budgets of <#C1>*",
        "• Daily: $10.00, the default; spent today: $1.50",
        "• Monthly: $200.00, set by an admin (the default is none); spent this month: $4.00",
    ]
    assert changed_text("C1", {CHANNEL_DAILY: 20.0, CHANNEL_MONTHLY: None}) == (
        "Budgets of <#C1> changed: daily $20.00, monthly: default."
    )
