"""The app's Home tab, as Block Kit (pure): a person's usage and limits; for admins also the spend of
the last 30 days, as a chart and a table, the top channels and people, turns and errors, and the
channel budgets, and the channels with an assistant of their own.

Limits: a Home tab view holds at most 100 blocks (docs.slack.dev/reference/views/home-tab-views), a
section's text 3,000 characters, a header's 150; the view here is about 15 blocks, and every list in
it is cut to fit. The chart is an image block naming a Slack file (`slack_file`: docs.slack.dev/
reference/block-kit/composition-objects/slack-file-object).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.governance.budgets import Key, Limits, Period, Scope
from bot.governance.chart import Bar
from bot.governance.pricing import dollars
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY
from bot.slack.assistant_text import assistant_summary
from bot.store.accounting import SpendRow

DAYS = 30
TOP = 5
MAX_CHANNEL_BUDGET_LINES = 20
SECTION_CHARS = 3000
CHART_TITLE = "Spend per day, last 30 days (USD)"
Block = dict[str, Any]


@dataclass(frozen=True)
class DayTotal:
    day: dt.date
    micros: int
    turns: int


@dataclass(frozen=True)
class Ranked:
    who: str  # a channel or user id
    micros: int
    turns: int


@dataclass(frozen=True)
class AdminData:
    days: list[DayTotal]
    top_channels: list[Ranked]
    top_people: list[Ranked]
    outcomes: Mapping[str, int]
    workspace_spent: Mapping[Key, int]
    limits: Limits
    channel_budgets: Mapping[str, Mapping[str, Any]]


def local_day(at: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(at, tz).date()


def first_day(now: float, tz: dt.tzinfo, days: int = DAYS) -> float:
    """When the oldest day of the window starts (local midnight, `days - 1` days before today)."""
    start = dt.datetime.combine(local_day(now, tz) - dt.timedelta(days=days - 1), dt.time(), tz)
    return start.timestamp()


def daily_totals(rows: Sequence[SpendRow], now: float, tz: dt.tzinfo, days: int = DAYS) -> list[DayTotal]:
    """Spend and turns per local day, oldest first, every day of the window (empty ones too)."""
    today = local_day(now, tz)
    micros: Counter[dt.date] = Counter()
    turns: Counter[dt.date] = Counter()
    for row in rows:
        day = local_day(row.at, tz)
        micros[day] += row.cost_micros
        turns[day] += 1
    span = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    return [DayTotal(day, micros[day], turns[day]) for day in span]


def ranked(rows: Sequence[SpendRow], by: str, top: int = TOP) -> list[Ranked]:
    """The biggest spenders by channel or by person, most first (ties: most turns, then id)."""
    micros: dict[str, int] = defaultdict(int)
    turns: Counter[str] = Counter()
    for row in rows:
        who = row.channel_id if by == "channel" else row.user_id
        micros[who] += row.cost_micros
        turns[who] += 1
    order = sorted(micros, key=lambda w: (-micros[w], -turns[w], w))
    return [Ranked(w, micros[w], turns[w]) for w in order[:top]]


def chart_bars(days: Sequence[DayTotal]) -> list[Bar]:
    return [Bar(f"{d.day:%m-%d}", d.micros / 1_000_000) for d in days]


def fingerprint(days: Sequence[DayTotal]) -> tuple[tuple[str, int], ...]:
    """What the chart shows: the same fingerprint draws the same picture (no new upload)."""
    return tuple((d.day.isoformat(), d.micros) for d in days)


# --- blocks ------------------------------------------------------------------------------------------


def _section(text: str) -> Block:
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def person_blocks(
    bot_name: str, usage: str, *, denial: str | None, slash_command: str, updated: str
) -> list[Block]:
    """What everyone sees: their usage against their limits (or why they may not use the bot)."""
    blocks = [_header(bot_name)]
    if denial is not None:
        blocks.append(_section(f":no_entry: {denial}"))
    blocks.append(_section(usage))
    blocks.append(
        _section(
            "*How to use it:* mention me in a channel I'm in, send me a direct message, or type "
            f"`{slash_command} <question>`. Reply in the thread to continue: the sandbox keeps your "
            f"variables and files. `{slash_command} usage` shows your spending anywhere."
        )
    )
    blocks.append(_context(f"Updated {updated}."))
    return blocks


def admin_blocks(data: AdminData, *, chart_file: str | None, updated: str) -> list[Block]:
    """What admins see below their own usage."""
    blocks: list[Block] = [{"type": "divider"}, _header("Spending (admins only)"), _section(_workspace(data))]
    if chart_file is not None:
        blocks.append(
            {
                "type": "image",
                "slack_file": {"id": chart_file},
                "alt_text": _chart_alt(data.days),
                "title": {"type": "plain_text", "text": CHART_TITLE},
            }
        )
    else:
        blocks.append(_context(f"Drawing the chart of the last {DAYS} days… it shows here in a moment."))
    blocks.append(_section(_table(data.days)))
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _top("Top channels", data.top_channels, "<#{}>")},
                {"type": "mrkdwn", "text": _top("Top people", data.top_people, "<@{}>")},
            ],
        }
    )
    blocks.append(_section(_outcomes(data.outcomes)))
    blocks.append(_section(_channel_budgets(data.limits, data.channel_budgets)))
    blocks.append(_section(_channel_assistants(data.channel_budgets)))
    blocks.append(
        _context(
            f"Last {DAYS} days, updated {updated}. Change a channel's budgets with "
            "`/claude budget [channel] daily <dollars> monthly <dollars>`, or everything about how I "
            "work there with `/claude config` in the channel."
        )
    )
    return blocks


def home_view(blocks: list[Block]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks}


def _workspace(data: AdminData) -> str:
    lines = ["*The whole workspace*"]
    for period, label, adjective in ((Period.DAY, "Today", "daily"), (Period.MONTH, "This month", "monthly")):
        used = data.workspace_spent.get((Scope.WORKSPACE, period), 0)
        limit = data.limits.get((Scope.WORKSPACE, period))
        against = (
            f" of {dollars(limit)} {adjective} budget" if limit is not None else f" (no {adjective} budget)"
        )
        lines.append(f"• {label}: {dollars(used)}{against}")
    ceiling = data.limits.get((Scope.WORKSPACE, Period.HOUR))
    if ceiling is not None:
        used = data.workspace_spent.get((Scope.WORKSPACE, Period.HOUR), 0)
        lines.append(f"• Last 60 minutes: {dollars(used)} of the {dollars(ceiling)} hourly ceiling")
    return "\n".join(lines)


def _chart_alt(days: Sequence[DayTotal]) -> str:
    total = sum(d.micros for d in days)
    busiest = max(days, key=lambda d: d.micros, default=None)
    text = f"Bar chart of spend per day over the last {len(days)} days: {dollars(total)} in all"
    if busiest is not None and busiest.micros:
        text += f", most on {busiest.day:%Y-%m-%d} ({dollars(busiest.micros)})"
    return text + "."


def _table(days: Sequence[DayTotal]) -> str:
    rows = [f"{'Day':<10}  {'Spend':>10}  {'Turns':>5}"]
    rows += [f"{d.day.isoformat():<10}  {dollars(d.micros):>10}  {d.turns:>5}" for d in days]
    total = sum(d.micros for d in days)
    rows.append(f"{'Total':<10}  {dollars(total):>10}  {sum(d.turns for d in days):>5}")
    return "```\n" + "\n".join(rows) + "\n```"


def _top(title: str, ranks: Sequence[Ranked], mention: str) -> str:
    lines = [f"*{title}*"]
    lines += [
        f"{n}. {mention.format(r.who)}: {dollars(r.micros)} ({r.turns} turns)" for n, r in enumerate(ranks, 1)
    ]
    if not ranks:
        lines.append("nothing spent yet")
    return "\n".join(lines)


def _outcomes(outcomes: Mapping[str, int]) -> str:
    total = sum(outcomes.values())
    errors = outcomes.get("failed", 0)
    parts = ", ".join(
        f"{name} {count}" for name, count in sorted(outcomes.items(), key=lambda i: (-i[1], i[0]))
    )
    line = f"*Turns:* {total}" + (f" ({parts})" if parts else "")
    return line + f"\n*Errors:* {errors}" + (f" ({100 * errors / total:.0f}% of turns)" if total else "")


def _channel_assistants(settings: Mapping[str, Mapping[str, Any]]) -> str:
    """The channels whose admins changed how the assistant works there (`/claude config`)."""
    shown = [(c, line) for c, values in sorted(settings.items()) if (line := assistant_summary(values))]
    lines = ["*Channels with their own assistant*"]
    lines += [f"• <#{channel}>: {line}" for channel, line in shown[:MAX_CHANNEL_BUDGET_LINES]]
    if len(shown) > MAX_CHANNEL_BUDGET_LINES:
        lines.append(f"…and {len(shown) - MAX_CHANNEL_BUDGET_LINES} more channels")
    if not shown:
        lines.append("Every channel has the deployment's assistant.")
    return "\n".join(lines)


def _channel_budgets(limits: Limits, overrides: Mapping[str, Mapping[str, Any]]) -> str:
    daily = limits.get((Scope.CHANNEL, Period.DAY))
    monthly = limits.get((Scope.CHANNEL, Period.MONTH))
    lines = [
        "*Channel budgets*",
        f"Default: daily {dollars(daily) if daily is not None else 'none'}, "
        f"monthly {dollars(monthly) if monthly is not None else 'none'}",
    ]
    shown = [
        (channel, values)
        for channel, values in sorted(overrides.items())
        if CHANNEL_DAILY in values or CHANNEL_MONTHLY in values
    ]
    for channel, values in shown[:MAX_CHANNEL_BUDGET_LINES]:
        parts = [
            f"{adjective} {dollars(round(float(values[name]) * 1_000_000))}"
            for adjective, name in (("daily", CHANNEL_DAILY), ("monthly", CHANNEL_MONTHLY))
            if name in values
        ]
        lines.append(f"• <#{channel}>: {', '.join(parts)}")
    if len(shown) > MAX_CHANNEL_BUDGET_LINES:
        lines.append(f"…and {len(shown) - MAX_CHANNEL_BUDGET_LINES} more channels")
    if not shown:
        lines.append("No channel has budgets of its own.")
    return "\n".join(lines)
