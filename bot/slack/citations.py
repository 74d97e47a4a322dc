"""Web sources cited in an answer: numbered in order of first use, marked inline, listed under the
answer as links (pure)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from bot.model import Citation
from bot.slack.safe_text import neutralize_mentions

TITLE_CHARS = 120


class Sources:
    """One answer's sources. The same page cited again keeps its number."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._titles: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._numbers)

    def marker(self, citation: Citation) -> str:
        """The inline marker for a citation, placed right after the text it backs."""
        number = self._numbers.setdefault(citation.url, len(self._numbers) + 1)
        self._titles.setdefault(citation.url, citation.title)
        return f" [{number}]"

    def text(self) -> str:
        """The list under the answer: `[1] Title` linked to its page."""
        lines = [f"[{n}] {source_link(url, self._titles[url])}" for url, n in self._numbers.items()]
        return "\n\n**Sources**\n" + "\n".join(lines) + "\n"


def source_link(url: str, title: str) -> str:
    """A Markdown link Slack renders, whatever the page's title holds: brackets in the title and
    parentheses or spaces in the address would end the link early; anything but http(s) is shown as
    text. Titles come from the web, so mentions in them are neutralised like the answer's."""
    shown = " ".join(title.split())[:TITLE_CHARS] or urlsplit(url).hostname or url
    shown = neutralize_mentions(shown.replace("[", "(").replace("]", ")"))
    if urlsplit(url).scheme not in ("http", "https"):
        return f"{shown} ({neutralize_mentions(url)})"
    safe_url = quote(url, safe=":/?#@!$&'*+,;=%~-._")
    return f"[{shown}]({safe_url})"
