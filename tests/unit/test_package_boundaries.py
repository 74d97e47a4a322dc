"""The bot package stands alone: it never imports the emulators (or anything else shipped only for
trying and testing it), so a production install (`pip install .`) needs none of their dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
# Top-level packages of this project that the bot must not reach into.
FORBIDDEN = ("emulators", "playground", "tests", "bench")


def _imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import emulators.slack", {"emulators"}),
        ("from emulators.anthropic import X", {"emulators"}),
        ("from .emulators import X", set()),
        ("import os, bot.config as c", {"os", "bot"}),
    ],
)
def test_imported_roots(source: str, expected: set[str]) -> None:
    assert _imported_roots(source) == expected


def test_bot_never_imports_the_emulators_or_tests() -> None:
    offenders = {
        str(path.relative_to(BOT.parent)): sorted(_imported_roots(path.read_text()) & set(FORBIDDEN))
        for path in BOT.rglob("*.py")
    }
    assert {name: roots for name, roots in offenders.items() if roots} == {}
