"""Which queries reach a data source at all (the databases enforce read-only access themselves)."""

from __future__ import annotations

import pytest

from bot.connectors.sqlcheck import Refused, check_query


@pytest.mark.parametrize(
    ("sql", "sent"),
    [
        ("SELECT 1", "SELECT 1"),
        ("select * from orders;", "select * from orders"),
        ("  WITH x AS (SELECT 1) SELECT * FROM x ;  ", "WITH x AS (SELECT 1) SELECT * FROM x"),
        ("(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)"),
        ("VALUES (1), (2)", "VALUES (1), (2)"),
        ("TABLE orders", "TABLE orders"),
        # Semicolons and keywords inside literals and comments do not count.
        ("SELECT 'a; DROP TABLE x' AS s", "SELECT 'a; DROP TABLE x' AS s"),
        ('SELECT "weird;name" FROM t', 'SELECT "weird;name" FROM t'),
        ("SELECT 'it''s; fine'", "SELECT 'it''s; fine'"),
        ("SELECT $$a;b$$, $tag$c;d$tag$", "SELECT $$a;b$$, $tag$c;d$tag$"),
        ("-- DELETE everything\nSELECT 1", "SELECT 1"),
        ("SELECT 1; -- trailing note", "SELECT 1"),
        ("/* a; b */ SELECT 2", "SELECT 2"),
    ],
)
def test_accepted(sql: str, sent: str) -> None:
    assert check_query(sql) == sent


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("", "empty"),
        (" ; ", "empty"),
        ("-- just a comment", "empty"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT 1; DROP TABLE orders", "one statement"),
        ("DELETE FROM orders", "read-only"),
        ("insert into t values (1)", "read-only"),
        ("UPDATE t SET a = 1", "read-only"),
        ("DROP TABLE t", "read-only"),
        ("PRAGMA writable_schema = 1", "read-only"),
        ("ATTACH DATABASE 'x.db' AS x", "read-only"),
        ("SET statement_timeout = 0", "read-only"),
        ("COPY t TO PROGRAM 'sh'", "read-only"),
        ("EXPLAIN ANALYZE DELETE FROM t", "read-only"),
        ("SELECT 'unclosed", "never closed"),
        ("SELECT /* unclosed", "never ends"),
        ("SELECT $$unclosed", "never closed"),
    ],
)
def test_refused(sql: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        check_query(sql)
