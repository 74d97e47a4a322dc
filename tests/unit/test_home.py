"""The Home tab's view (pure): days, rankings, what each block says, and Slack's limits."""

from __future__ import annotations

import datetime as dt

from bot.governance.budgets import Limits, Period, Scope
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY
from bot.slack.home import (
    AdminData,
    DayTotal,
    admin_blocks,
    chart_bars,
    daily_totals,
    fingerprint,
    first_day,
    home_view,
    person_blocks,
    ranked,
)
from bot.store.accounting import SpendRow

PARIS = dt.timezone(dt.timedelta(hours=1), "CET")
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=PARIS).timestamp()


def at(day: int, hour: int) -> float:
    return dt.datetime(2026, 12, day, hour, 30, tzinfo=PARIS).timestamp()


ROWS = [
    SpendRow(at(3, 9), "U_ANA", "C_DATA", 1_500_000),
    SpendRow(at(3, 0), "U_BEN", "C_DATA", 500_000),  # just after local midnight: the 3rd
    SpendRow(at(2, 23), "U_ANA", "C_OPS", 250_000),
    SpendRow(at(1, 12), "U_BEN", "C_OPS", 250_000),
]


def test_daily_totals_are_local_days_oldest_first_with_the_empty_ones() -> None:
    days = daily_totals(ROWS, NOW, PARIS)
    assert len(days) == 30 and days[0].day == dt.date(2026, 11, 4) and days[-1].day == dt.date(2026, 12, 3)
    assert days[-1] == DayTotal(dt.date(2026, 12, 3), 2_000_000, 2)
    assert days[-2] == DayTotal(dt.date(2026, 12, 2), 250_000, 1)
    assert days[-4].micros == 0 and days[-4].turns == 0
    assert first_day(NOW, PARIS) == dt.datetime(2026, 11, 4, tzinfo=PARIS).timestamp()


def test_rankings_and_the_chart_follow_the_data() -> None:
    assert [(r.who, r.micros, r.turns) for r in ranked(ROWS, "channel")] == [
        ("C_DATA", 2_000_000, 2),
        ("C_OPS", 500_000, 2),
    ]
    assert [r.who for r in ranked(ROWS, "user", top=1)] == ["U_ANA"]
    days = daily_totals(ROWS, NOW, PARIS)
    bars = chart_bars(days)
    assert (bars[-1].label, bars[-1].value) == ("12-03", 2.0)
    assert fingerprint(days) == fingerprint(daily_totals(list(reversed(ROWS)), NOW, PARIS))
    assert fingerprint(days) != fingerprint(daily_totals(ROWS[1:], NOW, PARIS))


def admin_data() -> AdminData:
    return AdminData(
        days=daily_totals(ROWS, NOW, PARIS),
        top_channels=ranked(ROWS, "channel"),
        top_people=ranked(ROWS, "user"),
        outcomes={"answered": 3, "failed": 1},
        workspace_spent={
            (Scope.WORKSPACE, Period.DAY): 2_000_000,
            (Scope.WORKSPACE, Period.MONTH): 2_500_000,
        },
        limits=Limits(
            {(Scope.WORKSPACE, Period.MONTH): 100_000_000, (Scope.CHANNEL, Period.DAY): 10_000_000}
        ),
        channel_budgets={
            "C_DATA": {CHANNEL_DAILY: 20, CHANNEL_MONTHLY: 200},
            "C_OPS": {"assistant": "x"},
            "C_SQL": {"preset": "sql", "model": "claude-opus-5", "web_search": False, "data_sources": []},
        },
    )


def text_of(blocks: list[dict[str, object]]) -> str:
    out = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(str(text["text"]))
        for field in block.get("fields") or []:  # type: ignore[attr-defined]
            out.append(str(field["text"]))
        for element in block.get("elements") or []:  # type: ignore[attr-defined]
            out.append(str(element.get("text", "")))
    return "\n".join(out)


def test_the_admin_view_has_chart_table_rankings_outcomes_and_budgets() -> None:
    blocks = admin_blocks(admin_data(), chart_file="F0CHART01", updated="2026-12-03 10:00 CET")
    [image] = [b for b in blocks if b["type"] == "image"]
    assert image["slack_file"] == {"id": "F0CHART01"}
    assert "$2.50 in all, most on 2026-12-03 ($2.00)" in str(image["alt_text"])
    text = text_of(blocks)
    assert "• Today: $2.00 (no daily budget)" in text
    assert "• This month: $2.50 of $100.00 monthly budget" in text
    assert "2026-12-03       $2.00      2" in text and "Total            $2.50      4" in text
    assert "1. <#C_DATA>: $2.00 (2 turns)" in text and "1. <@U_ANA>: $1.75 (2 turns)" in text
    assert "*Turns:* 4 (answered 3, failed 1)\n*Errors:* 1 (25% of turns)" in text
    assert "Default: daily $10.00, monthly none" in text
    assert (
        "• <#C_DATA>: daily $20.00, monthly $200.00" in text
        and "C_OPS" not in text.split("Channel budgets")[1]
    )
    assert (
        "• <#C_SQL>: Terse SQL helper; `claude-opus-5`; web search off; data sources: none" in text
        and "C_DATA" not in text.split("their own assistant")[1]
    )


def test_without_its_chart_the_view_says_it_is_being_drawn() -> None:
    blocks = admin_blocks(admin_data(), chart_file=None, updated="now")
    assert not [b for b in blocks if b["type"] == "image"]
    assert "Drawing the chart of the last 30 days" in text_of(blocks)


def test_the_whole_view_fits_slacks_limits() -> None:
    many = {f"C{n:08d}": {CHANNEL_DAILY: n} for n in range(500)}
    data = admin_data()
    data = AdminData(**{**data.__dict__, "channel_budgets": many})
    blocks = person_blocks("claude", "usage", denial=None, slash_command="/claude", updated="now")
    blocks += admin_blocks(data, chart_file="F1", updated="now")
    view = home_view(blocks)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            limit = 150 if block["type"] == "header" else 3000
            assert len(str(text["text"])) <= limit
    assert "…and 480 more channels" in text_of(blocks)


def test_a_person_turned_away_is_told_why_on_their_home_tab() -> None:
    blocks = person_blocks(
        "claude",
        "*What you have spent*",
        denial="Guest accounts can't use this bot.",
        slash_command="/claude",
        updated="now",
    )
    text = text_of(blocks)
    assert ":no_entry: Guest accounts can't use this bot." in text and "`/claude usage`" in text
