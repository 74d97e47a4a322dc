"""What `/claude status` and the confirmation of `/claude config` say about a channel's assistant (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.assistants.channel import ChannelAssistant
from bot.assistants.presets import preset
from bot.governance.spend import CHANNEL_DAILY, CHANNEL_MONTHLY
from bot.slack.assistant_modal import Choices

PERSONA_SHOWN = 200


def _on(value: bool) -> str:
    return "on" if value else "off"


def _names(chosen: tuple[str, ...] | None, offered: tuple[tuple[str, str], ...]) -> str:
    if chosen is None:
        return "all" if offered else "none configured"
    return ", ".join(f"`{n}`" for n in chosen) if chosen else "none"


def _budget(values: Mapping[str, Any], name: str, default: float | None) -> str:
    own = values.get(name)
    if isinstance(own, int | float):
        return f"${float(own):,.2f} (set here)"
    return f"${default:,.2f} (default)" if default is not None else "none"


def assistant_text(channel_id: str, values: Mapping[str, Any], choices: Choices) -> str:
    """A channel's assistant as its people see it: what an admin set, and the deployment's defaults."""
    a = ChannelAssistant.of(values)
    persona = preset(a.preset).label
    if a.persona:
        extra = a.persona if len(a.persona) <= PERSONA_SHOWN else a.persona[:PERSONA_SHOWN] + "…"
        persona += f", with extra instructions: “{extra}”"
    model = a.model or choices.default_model
    search = choices.web_search if a.web_search is None else a.web_search
    fetch = choices.web_fetch if a.web_fetch is None else a.web_fetch
    mention = choices.needs_mention if a.needs_mention is None else a.needs_mention
    lines = [
        f"*The assistant of <#{channel_id}>*" + ("" if a.configured else " (the deployment's defaults)"),
        f"• Persona: {persona}",
        f"• Model: `{model}`" + (" (default)" if model == choices.default_model else ""),
        f"• Web search {_on(search)}, web fetch {_on(fetch)}",
        f"• Data sources: {_names(a.data_sources, choices.sources)}",
        f"• Skills: {_names(a.skills, choices.skills)}",
        f"• Budget per day: {_budget(values, CHANNEL_DAILY, choices.budget_daily)}; per month: "
        f"{_budget(values, CHANNEL_MONTHLY, choices.budget_monthly)}",
        "• Thread replies: "
        + ("answered only when they mention me" if mention else "answered without a mention"),
    ]
    return "\n".join(lines)


def assistant_summary(values: Mapping[str, Any]) -> str:
    """One line of what an admin set for a channel (empty when nothing): for the admins' Home tab."""
    a = ChannelAssistant.of(values)
    parts: list[str] = []
    if a.preset is not None:
        parts.append(preset(a.preset).label)
    if a.persona:
        parts.append("own instructions")
    if a.model is not None:
        parts.append(f"`{a.model}`")
    for on, name in ((a.web_search, "web search"), (a.web_fetch, "web fetch")):
        if on is not None:
            parts.append(f"{name} {_on(on)}")
    for chosen, name in ((a.data_sources, "data sources"), (a.skills, "skills")):
        if chosen is not None:
            parts.append(f"{name}: {', '.join(chosen) or 'none'}")
    if a.needs_mention is not None:
        parts.append("replies need a mention" if a.needs_mention else "replies need no mention")
    return "; ".join(parts)
