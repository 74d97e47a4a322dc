"""What `/claude usage` and `/claude budget` say, and how `/claude budget` is read (pure).

Budgets are per person, per channel and for the workspace, per day and month in the budget time zone
(bot/governance/budgets.py). An admin can give one channel its own daily and monthly budget, in
dollars, instead of the default: `/claude budget [#channel] daily 20 monthly 200`, `… daily off`
(back to the default for that period), `… off` (both), and `/claude budget [#channel]` to see them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.governance.budgets import Key, Limits, Period, Scope, period_end
from bot.governance.pricing import dollars
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY

# `should_escape: false` in the manifest: a channel picked in the composer arrives as plain "#name",
# which cannot be told apart from another channel's name without listing every channel; a link
# (`<#C…|name>`, as escaping sends it) or a bare id can.
_CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]{6,})(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_AMOUNT = re.compile(r"^\$?(\d{1,7}(?:\.\d{1,2})?)$")
SETTINGS = {"daily": CHANNEL_DAILY, "monthly": CHANNEL_MONTHLY}
NAMES_NOT_IDS = (
    "I can't tell channels apart by name. Run the command in that channel, or give the channel's ID "
    "(`C…`, at the bottom of its About tab): `/claude budget C0123ABCD daily 20`."
)
BUDGET_USAGE = (
    "Usage: `/claude budget [channel] daily <dollars|off> monthly <dollars|off>`, or `/claude budget "
    "[channel] off` for the defaults again; `/claude budget [channel]` shows them. Without a channel it "
    "is the one you type it in."
)


@dataclass(frozen=True)
class BudgetRequest:
    channel_id: str | None  # None: the channel the command was typed in
    # Setting name -> dollars, or None to go back to the default. Empty: only show the budgets.
    changes: Mapping[str, float | None] = field(default_factory=dict)


def is_budget_command(words: list[str]) -> bool:
    """Whether the words after `budget` are a budget command (`/claude budget forecast for Q3?` is a
    question)."""
    if not words:
        return True
    first = words[0]
    return (
        first.lower() in (*SETTINGS, "off") or first.startswith(("<#", "#")) or bool(_CHANNEL_ID.match(first))
    )


def parse_budget(words: list[str]) -> BudgetRequest | str:
    """The request in the words after `budget`, or the line that says what is wrong with them."""
    words = list(words)
    channel: str | None = None
    if words and (words[0].startswith(("<#", "#")) or _CHANNEL_ID.match(words[0])):
        first = words.pop(0)
        link = _CHANNEL_LINK.match(first)
        if link:
            channel = link.group(1)
        elif _CHANNEL_ID.match(first):
            channel = first
        else:
            return NAMES_NOT_IDS
    if words == ["off"]:
        return BudgetRequest(channel, {CHANNEL_DAILY: None, CHANNEL_MONTHLY: None})
    if len(words) % 2:
        return BUDGET_USAGE
    changes: dict[str, float | None] = {}
    for period, amount in zip(words[::2], words[1::2], strict=True):
        name = SETTINGS.get(period.lower())
        if name is None or name in changes:
            return BUDGET_USAGE
        if amount.lower() == "off":
            changes[name] = None
            continue
        number = _AMOUNT.match(amount)
        if number is None:
            return f"`{amount}` is not an amount of dollars (like `20` or `12.50`). {BUDGET_USAGE}"
        changes[name] = float(number.group(1))
    return BudgetRequest(channel, changes)


def renews(end: float, tz: dt.tzinfo) -> str:
    local = dt.datetime.fromtimestamp(end, tz)
    return f"{local:%a %d %b, %H:%M} {local.tzname() or ''}".rstrip()


def _against(spent: int, limit: int | None, what: str) -> str:
    if limit is None:
        return f"{dollars(spent)} (no {what} budget)"
    share = round(100 * spent / limit) if limit else 100
    return f"{dollars(spent)} of {dollars(limit)} ({share}%)"


_PERIODS = ((Period.DAY, "Today", "daily"), (Period.MONTH, "This month", "monthly"))


def usage_text(
    spent: Mapping[Key, int], limits: Limits, *, channel_id: str, now: float, tz: dt.tzinfo, ask: str
) -> str:
    """`/claude usage`: the person's spend today and this month against their budgets, and the
    channel's where it has one."""
    lines = ["*What you have spent on Claude*"]
    for period, label, adjective in _PERIODS:
        limit = limits.get((Scope.USER, period))
        line = f"• {label}: {_against(spent.get((Scope.USER, period), 0), limit, adjective)}"
        if limit is not None:
            line += f"; your {adjective} budget renews {renews(period_end(now, period, tz), tz)}"
        lines.append(line)
    for period, label, adjective in _PERIODS:
        limit = limits.get((Scope.CHANNEL, period))
        if limit is not None:
            used = spent.get((Scope.CHANNEL, period), 0)
            lines.append(f"• In <#{channel_id}> {label.lower()}: {_against(used, limit, adjective)}")
    lines.append(f"Budgets count days and months in {_zone(now, tz)}. Ask {ask} if you need more.")
    return "\n".join(lines)


def budget_text(
    channel_id: str,
    overrides: Mapping[str, Any],
    defaults: Limits,
    spent: Mapping[Key, int],
) -> str:
    """`/claude budget`: a channel's budgets, whether an admin set them, and what it has spent."""
    lines = [f"*Budgets of <#{channel_id}>*"]
    for period, label, adjective in _PERIODS:
        name = SETTINGS[adjective]
        default = defaults.get((Scope.CHANNEL, period))
        default_text = dollars(default) if default is not None else "none"
        used = spent.get((Scope.CHANNEL, period), 0)
        if name in overrides:
            value = dollars(round(float(overrides[name]) * 1_000_000))
            source = f"set by an admin (the default is {default_text})"
        else:
            value, source = default_text, "the default"
        lines.append(f"• {adjective.capitalize()}: {value}, {source}; spent {label.lower()}: {dollars(used)}")
    return "\n".join(lines)


def changed_text(channel_id: str, changes: Mapping[str, float | None]) -> str:
    parts = []
    for adjective, name in SETTINGS.items():
        if name in changes:
            value = changes[name]
            parts.append(
                f"{adjective} {dollars(round(value * 1_000_000))}"
                if value is not None
                else f"{adjective}: default"
            )
    return f"Budgets of <#{channel_id}> changed: {', '.join(parts)}."


def _zone(now: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(now, tz).tzname() or str(tz)
