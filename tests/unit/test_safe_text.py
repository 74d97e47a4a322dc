"""What model-controlled text may not do in Slack: mentions, streamed halves, file names."""

from __future__ import annotations

import pytest

from bot.slack.safe_text import (
    INERT_AT,
    cut_to_bytes,
    display_name,
    neutralize_mentions,
    slack_file_name,
    split_unfinished,
)

AT = INERT_AT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello <!here> team", f"hello {AT}here team"),
        ("<!channel|channel> and <!everyone>", f"{AT}channel and {AT}everyone"),
        ("ping <!subteam^S0123|@data-team> now", f"ping {AT}data-team now"),
        ("<!subteam^S0123>", f"{AT}group"),
        ("bare @here, @channel and @everyone", f"bare {AT}here, {AT}channel and {AT}everyone"),
        # Not mentions: an address, a longer word, a user mention (those stay).
        ("mail ana@here.com", "mail ana@here.com"),
        ("@hereafter", "@hereafter"),
        ("thanks <@U0123ABCD>", "thanks <@U0123ABCD>"),
        ("a <b> tag", "a <b> tag"),
    ],
)
def test_neutralize_mentions(text: str, expected: str) -> None:
    assert neutralize_mentions(text) == expected


@pytest.mark.parametrize(
    ("text", "ready", "held"),
    [
        ("no mention", "no mention", ""),
        ("tell <!he", "tell ", "<!he"),
        ("tell <", "tell ", "<"),
        ("tell <!here|every", "tell ", "<!here|every"),
        ("done <!here> ok", "done <!here> ok", ""),
        ("x < y", "x < y", ""),
        ("hi @ev", "hi ", "@ev"),
        ("hi @here", "hi ", "@here"),  # may still become "@hereafter"
        ("hi @bob", "hi @bob", ""),
        ("1 <b", "1 <b", ""),
    ],
)
def test_split_unfinished(text: str, ready: str, held: str) -> None:
    assert split_unfinished(text) == (ready, held)


def test_a_mention_split_over_deltas_is_caught() -> None:
    held = ""
    out = ""
    for delta in ["Hey ", "<!", "he", "re> and @ever", "yone!"]:
        ready, held = split_unfinished(held + delta)
        out += neutralize_mentions(ready)
    out += neutralize_mentions(held)
    assert out == f"Hey {AT}here and {AT}everyone!"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("a\u200bb\u2066c\u2069\u200e.csv", "abc.csv"),
        ("\u200b\u200b", "file"),
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
    ],
)
def test_display_name(name: str, expected: str) -> None:
    assert display_name(name) == expected


def test_slack_file_name_cuts_by_bytes_and_keeps_the_extension() -> None:
    name = "📊" * 100 + ".png"  # 400 bytes of emoji
    cut = slack_file_name(name)
    assert len(cut.encode()) <= 255 and cut.endswith(".png") and cut.startswith("📊")
    assert "\ufffd" not in cut


def test_slack_file_name_is_unique_among_taken() -> None:
    assert slack_file_name("chart.png", ["chart.png"]) == "chart (2).png"
    assert slack_file_name("Chart.png", ["chart.png", "chart (2).png"]) == "Chart (3).png"
    long = "x" * 300 + ".csv"
    first = slack_file_name(long)
    second = slack_file_name(long, [first])
    assert first != second and len(second.encode()) <= 255 and second.endswith(" (2).csv")


@pytest.mark.parametrize(("text", "limit", "expected"), [("abc", 2, "ab"), ("é", 1, ""), ("aé", 3, "aé")])
def test_cut_to_bytes(text: str, limit: int, expected: str) -> None:
    assert cut_to_bytes(text, limit) == expected
