"""Running a read-only query on a declared source, with its row cap and time limit.

Read-only is enforced by the database connection, never trusted to the model:

* PostgreSQL (asyncpg): every query runs in a `READ ONLY` transaction (PostgreSQL refuses any write
  in it: "cannot execute ... in a read-only transaction"), with `statement_timeout` and a client-side
  timeout as a backstop, `search_path` limited to the allowed schemas, as a prepared statement (the
  extended protocol takes exactly one statement). The relations it reads are taken from
  `EXPLAIN (FORMAT JSON, VERBOSE)` and checked against the source's allowed schemas and tables (views
  appear as their base tables there). Give the bot a database role that can only read what it may.
* SQLite (sqlite3, in a worker thread): the file is opened read-only (`mode=ro`, `PRAGMA
  query_only`), and an authorizer allows nothing but reading allowed tables and calling harmless
  functions: no PRAGMA, ATTACH, writes or transactions. A progress handler interrupts a query past
  its time limit. `execute` takes one statement only.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.connectors.sources import DataSource
from bot.connectors.sqlcheck import Refused, check_query

log = logging.getLogger(__name__)

# SQLite authorizer action codes (sqlite3.SQLITE_*), and functions that touch files or extensions.
_SQLITE_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    33,
}  # 33: RECURSIVE
_SQLITE_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile"}
_SQLITE_SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows existed than the source's row cap
    elapsed_ms: int


def json_value(value: Any) -> Any:
    """A database value as JSON: numbers and text as they are, times as ISO 8601, bytes as base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


class SqlRunner:
    """Queries on the declared sources; one small connection pool per PostgreSQL source."""

    def __init__(self, sources: Sequence[DataSource]) -> None:
        self.sources = {s.name: s for s in sources}
        self._pools: dict[str, Any] = {}
        self._pool_lock = asyncio.Lock()

    def source(self, name: str) -> DataSource:
        source = self.sources.get(name)
        if source is None:
            known = ", ".join(sorted(self.sources)) or "none are configured"
            raise Refused(f"there is no data source named {name!r} (available: {known})")
        return source

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    async def query(self, source_name: str, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        source = self.source(source_name)
        text = check_query(sql)
        started = time.monotonic()
        if source.kind == "sqlite":
            columns, rows, truncated = await asyncio.to_thread(_sqlite_query, source, text, list(params))
        else:
            columns, rows, truncated = await self._pg_query(source, text, list(params))
        return QueryResult(columns, rows, truncated, round((time.monotonic() - started) * 1000))

    async def tables(self, source_name: str) -> list[dict[str, str]]:
        source = self.source(source_name)
        if source.kind == "sqlite":
            found = await asyncio.to_thread(_sqlite_tables, source)
        else:
            found = await self._pg_tables(source)
        return [t for t in found if source.allows_table(t.get("schema"), t["name"])]

    async def describe(self, source_name: str, table: str) -> dict[str, Any]:
        source = self.source(source_name)
        schema, _, name = table.rpartition(".")
        if not source.allows_table(schema or None, name) or not any(
            t["name"] == name and (not schema or t.get("schema") == schema)
            for t in await self.tables(source_name)
        ):
            raise Refused(f"there is no table {table!r} in {source_name} that this bot may read")
        if source.kind == "sqlite":
            return await asyncio.to_thread(_sqlite_describe, source, name)
        return await self._pg_describe(source, schema or None, name)

    # --- PostgreSQL ---------------------------------------------------------------------------------

    async def _pool(self, source: DataSource) -> Any:
        import asyncpg

        async with self._pool_lock:
            pool = self._pools.get(source.name)
            if pool is None:
                schemas = source.schemas or ("public",)
                pool = await asyncpg.create_pool(
                    source.postgres_dsn,
                    min_size=0,
                    max_size=4,
                    timeout=10,
                    server_settings={
                        "application_name": "claude-slack-sandbox",
                        "default_transaction_read_only": "on",
                        "search_path": ", ".join(f'"{s}"' for s in schemas),
                    },
                )
                self._pools[source.name] = pool
            return pool

    async def _pg_query(
        self, source: DataSource, sql: str, params: list[Any]
    ) -> tuple[list[str], list[list[Any]], bool]:
        import asyncpg

        pool = await self._pool(source)
        timeout_ms = int(source.timeout_seconds * 1000)
        try:
            async with (
                asyncio.timeout(source.timeout_seconds + 5),
                pool.acquire() as conn,
                conn.transaction(readonly=True),
            ):
                await conn.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON, VERBOSE) {sql}", *params)
                _check_relations(source, plan)
                statement = await conn.prepare(sql)
                columns = [a.name for a in statement.get_attributes()]
                if not columns:
                    raise Refused("the statement returns no rows: only queries are run")
                rows: list[list[Any]] = []
                truncated = False
                async for record in statement.cursor(*params, prefetch=1000):
                    if len(rows) >= source.row_cap:
                        truncated = True
                        break
                    rows.append([json_value(v) for v in record])
        except TimeoutError as exc:
            raise Refused(
                f"the query ran longer than {source.timeout_seconds:g} s and was cancelled"
            ) from exc
        except asyncpg.QueryCanceledError as exc:
            raise Refused(
                f"the query ran longer than {source.timeout_seconds:g} s and was cancelled"
            ) from exc
        except asyncpg.ReadOnlySQLTransactionError as exc:
            raise Refused(f"this source is read-only ({exc})") from exc
        except asyncpg.PostgresError as exc:
            raise Refused(f"the database rejected the query: {exc}") from exc
        return columns, rows, truncated

    async def _pg_tables(self, source: DataSource) -> list[dict[str, str]]:
        pool = await self._pool(source)
        schemas = list(source.schemas or ("public",))
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            records = await conn.fetch(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = ANY($1::text[]) ORDER BY 1, 2",
                schemas,
            )
        return [
            {"schema": r[0], "name": r[1], "type": "view" if r[2] == "VIEW" else "table"} for r in records
        ]

    async def _pg_describe(self, source: DataSource, schema: str | None, table: str) -> dict[str, Any]:
        pool = await self._pool(source)
        schema = schema or (source.schemas or ("public",))[0]
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            records = await conn.fetch(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                schema,
                table,
            )
            estimate = await conn.fetchval(
                "SELECT reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relname = $2",
                schema,
                table,
            )
        return {
            "table": f"{schema}.{table}",
            "columns": [{"name": r[0], "type": r[1], "nullable": r[2] == "YES"} for r in records],
            "row_estimate": max(0, int(estimate)) if estimate is not None else None,
        }


def _relations(plan: Any) -> Iterator[tuple[str | None, str]]:
    """(schema, table) of every relation a plan (parsed EXPLAIN JSON) reads."""
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            yield plan.get("Schema"), str(plan["Relation Name"])
        for value in plan.values():
            yield from _relations(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _relations(item)


def _check_relations(source: DataSource, plan: Any) -> None:
    for schema, table in _relations(json.loads(plan) if isinstance(plan, str) else plan):
        if not source.allows_table(schema, table):
            shown = f"{schema}.{table}" if schema else table
            raise Refused(f"the table {shown} is not available in the source {source.name}")


# --- SQLite (runs in a worker thread) ----------------------------------------------------------------


def _sqlite_connect(source: DataSource) -> sqlite3.Connection:
    uri = f"file:{quote(source.sqlite_path)}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=source.timeout_seconds)
    except sqlite3.OperationalError as exc:
        raise Refused(f"the data source {source.name} cannot be opened ({exc})") from exc
    conn.execute("PRAGMA query_only = ON")
    return conn


Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]


def _sqlite_authorizer(source: DataSource) -> Authorizer:
    def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, inner: str | None) -> int:
        if action not in _SQLITE_ALLOWED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return (
                sqlite3.SQLITE_DENY if (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS else sqlite3.SQLITE_OK
            )
        if action == sqlite3.SQLITE_READ:
            table = arg1 or ""
            if db not in (None, "main"):
                return sqlite3.SQLITE_DENY
            if table.lower() in _SQLITE_SCHEMA_TABLES:
                return sqlite3.SQLITE_OK if not source.tables else sqlite3.SQLITE_DENY
            # A view's own reads come with the view's name as `inner`: allowed when the view is.
            if source.allows_table(None, table) or (inner is not None and source.allows_table(None, inner)):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


def _sqlite_query(source: DataSource, sql: str, params: list[Any]) -> tuple[list[str], list[list[Any]], bool]:
    conn = _sqlite_connect(source)
    deadline = time.monotonic() + source.timeout_seconds
    try:
        conn.set_authorizer(_sqlite_authorizer(source))
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = conn.execute(sql, params)
            if cursor.description is None:
                raise Refused("the statement returns no rows: only queries are run")
            columns = [d[0] for d in cursor.description]
            fetched = cursor.fetchmany(source.row_cap + 1)
        except sqlite3.DatabaseError as exc:
            raise Refused(_sqlite_problem(source, exc, deadline)) from exc
        except sqlite3.ProgrammingError as exc:
            raise Refused(f"the query was not accepted: {exc}") from exc
    finally:
        conn.close()
    truncated = len(fetched) > source.row_cap
    rows = [[json_value(v) for v in row] for row in fetched[: source.row_cap]]
    return columns, rows, truncated


def _sqlite_problem(source: DataSource, exc: sqlite3.DatabaseError, deadline: float) -> str:
    text = str(exc)
    if "interrupted" in text and time.monotonic() > deadline:
        return f"the query ran longer than {source.timeout_seconds:g} s and was cancelled"
    if "not authorized" in text or "prohibited" in text:
        return (
            "the query reads something this bot may not read here (a table not allowed, or a PRAGMA/ATTACH)"
        )
    if "readonly" in text or "read-only" in text:
        return "this source is read-only"
    return f"the database rejected the query: {text}"


def _sqlite_tables(source: DataSource) -> list[dict[str, str]]:
    conn = _sqlite_connect(source)
    try:
        rows = conn.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [{"name": r[0], "type": r[1]} for r in rows]


def _sqlite_describe(source: DataSource, table: str) -> dict[str, Any]:
    conn = _sqlite_connect(source)
    deadline = time.monotonic() + min(5.0, source.timeout_seconds)
    try:
        columns = conn.execute(
            'SELECT name, type, "notnull", pk FROM pragma_table_info(?)', (table,)
        ).fetchall()
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            count: int | None = conn.execute(
                f'SELECT count(*) FROM "{table.replace(chr(34), chr(34) * 2)}"'
            ).fetchone()[0]
        except sqlite3.OperationalError:
            count = None  # too slow to count: leave it out
    finally:
        conn.close()
    return {
        "table": table,
        "columns": [
            {"name": c[0], "type": c[1] or "", "nullable": not c[2], "primary_key": bool(c[3])}
            for c in columns
        ],
        "row_count": count,
    }
