"""A channel's assistant as stored (one JSON object per channel in `channel_settings`), and the turn
options it gives (pure).

A setting absent from the stored object means "the deployment's": a channel nobody configured runs
exactly as before. The channel's budgets live in the same object (bot/governance/spend.py reads
them); everything else is read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.assistants.presets import preset
from bot.model import SkillRef, TurnOptions

# The stored names (budgets: bot/governance/spend.py CHANNEL_DAILY / CHANNEL_MONTHLY).
PRESET = "preset"
PERSONA = "persona"
MODEL = "model"
WEB_SEARCH = "web_search"
WEB_FETCH = "web_fetch"
DATA_SOURCES = "data_sources"
SKILLS = "skills"
NEEDS_MENTION = "needs_mention"
ASSISTANT_KEYS = (PRESET, PERSONA, MODEL, WEB_SEARCH, WEB_FETCH, DATA_SOURCES, SKILLS, NEEDS_MENTION)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _names(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


@dataclass(frozen=True)
class ChannelAssistant:
    """What an admin set for one channel; None: the deployment's setting."""

    preset: str | None = None
    persona: str = ""  # the admin's own extra instructions, after the preset's
    model: str | None = None
    web_search: bool | None = None
    web_fetch: bool | None = None
    data_sources: tuple[str, ...] | None = None  # None: every configured source
    skills: tuple[str, ...] | None = None  # names; None: every skill of the deployment
    needs_mention: bool | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> ChannelAssistant:
        """From the stored object; a value of the wrong type (a hand-edited row) counts as absent."""
        return cls(
            preset=values.get(PRESET) if isinstance(values.get(PRESET), str) else None,
            persona=str(values.get(PERSONA) or ""),
            model=values.get(MODEL) if isinstance(values.get(MODEL), str) else None,
            web_search=_bool(values.get(WEB_SEARCH)),
            web_fetch=_bool(values.get(WEB_FETCH)),
            data_sources=_names(values.get(DATA_SOURCES)),
            skills=_names(values.get(SKILLS)),
            needs_mention=_bool(values.get(NEEDS_MENTION)),
        )

    @property
    def configured(self) -> bool:
        return self != ChannelAssistant()

    def instructions(self) -> str:
        """What the system prompt says about this channel: the preset's persona, then the admin's
        words. Constant until an admin changes them, so the channel's threads keep their cache."""
        parts = [p for p in (preset(self.preset).persona, self.persona.strip()) if p]
        if not parts:
            return ""
        return "# This channel\nAn admin of this channel set how you work here:\n" + "\n\n".join(parts)

    def options(self, base: TurnOptions, skills: Sequence[SkillRef]) -> TurnOptions:
        """The turn options of this channel: the deployment's (`base`, with every skill in `skills`)
        with what the admin set in place."""
        web = replace(
            base.web,
            search=base.web.search if self.web_search is None else self.web_search,
            fetch=base.web.fetch if self.web_fetch is None else self.web_fetch,
        )
        chosen = tuple(skills) if self.skills is None else tuple(s for s in skills if s.name in self.skills)
        return replace(
            base,
            web=web,
            skills=chosen,
            model=self.model or base.model,
            persona=self.instructions(),
            data_sources=None if self.data_sources is None else frozenset(self.data_sources),
        )
