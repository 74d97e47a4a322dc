"""The personas `/claude config` offers as starting points (pure data).

A preset is a persona (instructions added to the system prompt) and the web tools it suggests; the
admin's own extra instructions go after it. In the spirit of the seeds' data teams: someone who wants
the reasoning, someone who wants only the query, someone who writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    label: str  # at most 75 characters: a radio button's text
    about: str  # what the admin reads under it
    persona: str  # what Claude reads
    web_search: bool = False
    web_fetch: bool = False


PRESETS: tuple[Preset, ...] = (
    Preset("default", "Default", "The data analyst every channel gets.", ""),
    Preset(
        "explainer",
        "Data analyst who explains its steps",
        "Says what it will do, shows how it got there, and why. Suggests web search.",
        "In this channel people want to learn from how you work. Before each analysis say in one line "
        "what you are going to do and why; after it, explain the steps you took and the choices you "
        "made (filters, joins, how missing values were handled) in plain words, so that someone new to "
        "the data could repeat them.",
        web_search=True,
    ),
    Preset(
        "sql",
        "Terse SQL helper",
        "The query and the number, nothing else. No web.",
        "In this channel people want SQL and results, not prose. Answer with the query you ran (in a "
        "```sql block) and the result in at most three lines. No preamble, no summary, no suggestions "
        "unless asked. Prefer the company data sources over attached files when both could answer.",
    ),
    Preset(
        "report",
        "Report writer",
        "Turns an analysis into a document to send around. Suggests web search and fetch.",
        "In this channel people prepare documents for others. Write like a report: a one-sentence "
        "conclusion, then short sections with headings, a chart for every trend, and the caveats at the "
        "end. When the analysis is done, offer to make it a Word document or a slide deck.",
        web_search=True,
        web_fetch=True,
    ),
)


def preset(key: str | None) -> Preset:
    """The preset with this key (the default one for an unknown or missing key)."""
    return next((p for p in PRESETS if p.key == key), PRESETS[0])
