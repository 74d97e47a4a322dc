"""Data sources against real databases: the demo SQLite file and a throwaway PostgreSQL database.

What matters is what the database refuses, not what the bot's own checks catch first: writes smuggled
inside a query that starts with WITH, file and extension functions, tables outside the allow-list, and
queries that run too long all fail with a clear reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.connectors.demo import build
from bot.connectors.sources import DataSource
from bot.connectors.sql import SqlRunner
from bot.connectors.sqlcheck import Refused
from tests import postgres


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("demo") / "demo.db")


def sqlite_source(path: Path, **extra: object) -> DataSource:
    return DataSource.model_validate(
        {"name": "demo", "url": f"sqlite:///{path}", "description": "Demo", **extra}
    )


async def test_sqlite_answers_the_worked_example(demo_db: Path) -> None:
    runner = SqlRunner([sqlite_source(demo_db)])
    result = await runner.query(
        "demo",
        "SELECT region_id, sum(CASE WHEN month BETWEEN '2026-07' AND '2026-09' THEN revenue END) / "
        "sum(CASE WHEN month BETWEEN '2026-04' AND '2026-06' THEN revenue END) - 1 AS growth "
        "FROM sales_by_region_month GROUP BY region_id ORDER BY growth DESC",
    )
    assert result.columns == ["region_id", "growth"]
    assert result.rows[0][0] == "N" and not result.truncated
    tables = {t["name"] for t in await runner.tables("demo")}
    assert {"orders", "customers", "products", "regions", "sales_by_region_month"} <= tables
    described = await runner.describe("demo", "orders")
    assert [c["name"] for c in described["columns"]][:3] == ["id", "customer_id", "product_id"]
    assert described["row_count"] > 10_000


async def test_sqlite_row_cap_and_params(demo_db: Path) -> None:
    runner = SqlRunner([sqlite_source(demo_db, row_cap=50)])
    result = await runner.query("demo", "SELECT id FROM orders WHERE quantity >= ? ORDER BY id", [1])
    assert len(result.rows) == 50 and result.truncated


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("WITH x AS (SELECT 1) DELETE FROM orders", "may not read|read-only|rejected"),
        ("WITH x AS (SELECT 1) INSERT INTO regions VALUES ('X', 'x')", "may not read|read-only|rejected"),
        ("SELECT load_extension('/tmp/evil')", "may not read|rejected"),
        ("SELECT * FROM pragma_table_info('orders')", "may not read|rejected"),
        ("SELECT 1; DELETE FROM orders", "one statement"),
        ("DELETE FROM orders", "read-only"),
        (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
            "longer than 0.5 s",
        ),
    ],
)
async def test_sqlite_refuses(demo_db: Path, sql: str, reason: str) -> None:
    runner = SqlRunner([sqlite_source(demo_db, timeout_seconds=0.5)])
    with pytest.raises(Refused, match=reason):
        await runner.query("demo", sql)
    # The file is untouched.
    assert (await runner.query("demo", "SELECT count(*) FROM regions")).rows == [[4]]


async def test_sqlite_table_allow_list(demo_db: Path) -> None:
    runner = SqlRunner([sqlite_source(demo_db, tables=["orders", "sales_by_region_month"])])
    assert (await runner.query("demo", "SELECT count(*) FROM orders")).rows[0][0] > 0
    # A view that is allowed may read its base tables; the tables themselves stay closed.
    assert (await runner.query("demo", "SELECT count(*) FROM sales_by_region_month")).rows[0][0] > 0
    for sql in ("SELECT * FROM customers", "SELECT name FROM sqlite_master"):
        with pytest.raises(Refused, match="may not read"):
            await runner.query("demo", sql)
    assert {t["name"] for t in await runner.tables("demo")} == {"orders", "sales_by_region_month"}
    with pytest.raises(Refused, match="no table"):
        await runner.describe("demo", "customers")


async def test_unknown_source_is_named() -> None:
    with pytest.raises(Refused, match="no data source named 'nope'"):
        await SqlRunner([]).query("nope", "SELECT 1")


@pytest.fixture
async def pg_source() -> AsyncIterator[DataSource]:
    await postgres.require()
    import asyncpg

    name = await postgres.create_database()
    dsn = postgres.ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE orders (id int PRIMARY KEY, region text, amount numeric(10,2), at timestamptz);"
            "INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'N' ELSE 'S' END, g * 1.5, "
            "'2026-07-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 500) g;"
            "CREATE SCHEMA secret; CREATE TABLE secret.salaries (who text, amount int);"
            "CREATE TABLE hidden (x int);"
        )
    finally:
        await conn.close()
    try:
        yield DataSource(
            name="shop",
            url=f"postgresql+asyncpg://{dsn.split('://', 1)[1]}",
            description="Shop",
            tables=("orders",),
            timeout_seconds=1.0,
            row_cap=100,
        )
    finally:
        await postgres.drop_database(name)


async def test_postgres_reads_with_types_and_cap(pg_source: DataSource) -> None:
    runner = SqlRunner([pg_source])
    try:
        result = await runner.query(
            "shop", "SELECT id, amount, at FROM orders WHERE region = $1 ORDER BY id", ["N"]
        )
        assert result.columns == ["id", "amount", "at"]
        assert result.rows[0][:2] == [2, 3.0] and result.rows[0][2].startswith("2026-07-01T02:00:00")
        assert len(result.rows) == 100 and result.truncated
        assert await runner.tables("shop") == [{"schema": "public", "name": "orders", "type": "table"}]
        described = await runner.describe("shop", "orders")
        assert [c["name"] for c in described["columns"]] == ["id", "region", "amount", "at"]
    finally:
        await runner.close()


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d", "read-only"),
        ("SELECT * FROM secret.salaries", "not available"),
        ("SELECT * FROM hidden", "not available"),
        ("SELECT pg_sleep(5)", "longer than 1 s"),
        ("SELECT set_config('transaction_read_only', 'off', true), 1", "read-only|rejected"),
    ],
)
async def test_postgres_refuses(pg_source: DataSource, sql: str, reason: str) -> None:
    runner = SqlRunner([pg_source])
    try:
        with pytest.raises(Refused, match=reason):
            await runner.query("shop", sql)
        assert (await runner.query("shop", "SELECT count(*) FROM orders")).rows == [[500]]
    finally:
        await runner.close()
