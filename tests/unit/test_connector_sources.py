"""Declared data sources: parsing, validation, what Claude is told, and result pages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.connectors.sources import DataSource, SourcesError, parse_sources
from bot.connectors.sql import QueryResult
from bot.connectors.tools import Pages
from bot.model import ThreadKey


def test_parse_sources_and_what_claude_sees() -> None:
    sources = parse_sources(
        {
            "sources": [
                {
                    "name": "sales",
                    "url": "postgresql+asyncpg://reader:s3cret@db/sales",
                    "description": "Shop",
                },
                {
                    "name": "demo",
                    "url": "sqlite:///data/demo.db",
                    "description": "Demo",
                    "tables": ["orders"],
                },
            ]
        },
        origin="test",
    )
    sales, demo = sources
    assert sales.kind == "postgresql" and sales.postgres_dsn == "postgresql://reader:s3cret@db/sales"
    assert demo.kind == "sqlite" and demo.sqlite_path == "data/demo.db"
    assert "s3cret" not in json.dumps(sales.for_claude()) and "url" not in sales.for_claude()
    assert demo.for_claude()["tables"] == ["orders"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"name": "Sales", "url": "sqlite:///x.db", "description": "d"}, "lower-case"),
        ({"name": "s", "url": "mysql://x/y", "description": "d"}, "postgresql:// or sqlite:///"),
        ({"name": "s", "url": "sqlite:///x.db"}, "description"),
        ({"name": "s", "url": "sqlite:///x.db", "description": "d", "row_cap": 0}, "row_cap"),
        ({"name": "s", "url": "sqlite:///x.db", "description": "d", "password": "x"}, "password"),
    ],
)
def test_bad_sources_are_named(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(SourcesError, match=problem):
        parse_sources({"sources": [entry]}, origin="test")


def test_duplicate_names_are_refused() -> None:
    entry = {"name": "s", "url": "sqlite:///x.db", "description": "d"}
    with pytest.raises(SourcesError, match="used twice"):
        parse_sources({"sources": [entry, entry]}, origin="test")


@pytest.mark.parametrize(
    ("tables", "schemas", "schema", "table", "allowed"),
    [
        ((), (), "public", "orders", True),
        ((), (), "secret", "orders", False),  # PostgreSQL defaults to the public schema only
        ((), ("sales",), "sales", "orders", True),
        (("orders",), (), "public", "orders", True),
        (("orders",), (), "public", "customers", False),
        (("public.orders",), (), "public", "orders", True),
    ],
)
def test_allowed_tables(
    tables: tuple[str, ...], schemas: tuple[str, ...], schema: str, table: str, allowed: bool
) -> None:
    source = DataSource(name="s", url="postgresql://h/db", description="d", tables=tables, schemas=schemas)
    assert source.allows_table(schema, table) is allowed


KEY = ThreadKey("T1", "C1", "1.0")


def result(rows: int, width: int = 3) -> QueryResult:
    return QueryResult([f"c{i}" for i in range(width)], [[n] * width for n in range(rows)], False, 1)


def test_small_results_come_in_one_page() -> None:
    page = Pages().first(KEY, result(10), now=0)
    assert page["total_rows"] == 10 and len(page["rows"]) == 10 and page["next_cursor"] is None


def test_large_results_come_in_pages_of_bounded_size() -> None:
    pages = Pages(page_bytes=1000)
    page = pages.first(KEY, result(500), now=0)
    got = list(page["rows"])
    while page["next_cursor"]:
        assert len(json.dumps(page["rows"])) <= 1000
        page = pages.next(KEY, page["next_cursor"], now=1)
        got += page["rows"]
    assert got == result(500).rows


def test_a_cursor_only_works_in_its_thread_and_expires() -> None:
    pages = Pages(page_bytes=100)
    cursor = pages.first(KEY, result(100), now=0)["next_cursor"]
    with pytest.raises(Exception, match="unknown or expired"):
        pages.next(ThreadKey("T1", "C1", "2.0"), cursor, now=1)
    with pytest.raises(Exception, match="unknown or expired"):
        pages.next(KEY, cursor, now=10_000)


def test_held_rows_are_bounded() -> None:
    pages = Pages(page_bytes=100, max_values=1000)
    older = pages.first(KEY, result(200), now=0)["next_cursor"]  # ~600 values held
    newer = pages.first(KEY, result(200), now=1)["next_cursor"]  # room is made by dropping the older
    with pytest.raises(Exception, match="unknown or expired"):
        pages.next(KEY, str(older), now=2)
    assert pages.next(KEY, str(newer), now=2)["rows"]
    # A result larger than everything that may be held is cut, and says so.
    page = pages.first(KEY, result(400), now=3)
    assert page["total_rows"] == 333 and page["truncated"] is True
