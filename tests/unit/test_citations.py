"""Sources under an answer: numbered by first use, links that survive any title (pure)."""

from __future__ import annotations

import pytest

from bot.model import Citation
from bot.slack.citations import Sources, source_link


def test_numbers_follow_first_use_and_repeat_for_the_same_page() -> None:
    sources = Sources()
    assert not sources
    assert sources.marker(Citation("https://a.org/1", "A")) == " [1]"
    assert sources.marker(Citation("https://b.org/2", "B")) == " [2]"
    assert sources.marker(Citation("https://a.org/1", "A again")) == " [1]"
    assert sources.text() == "\n\n**Sources**\n[1] [A](https://a.org/1)\n[2] [B](https://b.org/2)\n"


@pytest.mark.parametrize(
    ("url", "title", "link"),
    [
        ("https://a.org/x", "Plain", "[Plain](https://a.org/x)"),
        ("https://a.org/x", "[Breaking] news", "[(Breaking) news](https://a.org/x)"),
        ("https://a.org/a (b)", "T", "[T](https://a.org/a%20%28b%29)"),
        ("https://a.org/x", "  ", "[a.org](https://a.org/x)"),
        ("https://a.org/x", "Ping @here now", "[Ping ＠here now](https://a.org/x)"),
        ("javascript:alert(1)", "Bad", "Bad (javascript:alert(1))"),
    ],
)
def test_links(url: str, title: str, link: str) -> None:
    assert source_link(url, title) == link
