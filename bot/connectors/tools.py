"""The data tools Claude's sandbox code calls: `sql_query`, `sql_more`, `list_tables`, `describe_table`.

They are callable from code only (`allowed_callers: [code_execution_...]`): rows go straight into the
Python REPL, where a DataFrame outlives the turn, and programmatic tool results are not added to
Claude's context (anthropic-code-execution.md §4). A result is returned in pages of at most
PAGE_BYTES of JSON: the first page with `next_cursor`, the rest through `sql_more`, so a large result
never becomes one huge tool result that every later request of the thread would carry again. Pages are
held in memory for CURSOR_TTL_SECONDS, bounded in all by MAX_HELD_VALUES, and a cursor works only in
the thread that made it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.connectors.sql import QueryResult, SqlRunner
from bot.connectors.sqlcheck import Refused
from bot.model import ThreadKey
from bot.tools.registry import ToolContext, ToolFailed, ToolRegistry

log = logging.getLogger(__name__)

PAGE_BYTES = 256 * 1024
CURSOR_TTL_SECONDS = 15 * 60
MAX_HELD_VALUES = 5_000_000  # cells kept for later pages, across every thread of this process


@dataclass(frozen=True)
class QueryAudit:
    """One query, for the audit table: who asked, in which thread, what ran, what came back."""

    user_id: str
    thread: ThreadKey
    source: str
    statement: str
    rows: int
    elapsed_ms: int
    outcome: str  # "ok" or the refusal


Auditor = Callable[[QueryAudit], Awaitable[None]]


@dataclass
class _Held:
    thread: ThreadKey
    columns: list[str]
    rows: list[list[Any]]
    position: int
    total: int
    truncated: bool
    expires: float


class Pages:
    """The rest of large results, by cursor."""

    def __init__(self, *, page_bytes: int = PAGE_BYTES, max_values: int = MAX_HELD_VALUES) -> None:
        self.page_bytes = page_bytes
        self.max_values = max_values
        self._held: OrderedDict[str, _Held] = OrderedDict()

    def first(self, thread: ThreadKey, result: QueryResult, now: float) -> dict[str, Any]:
        rows, truncated = result.rows, result.truncated
        width = max(1, len(result.columns))
        if len(rows) * width > self.max_values:
            # More than this process holds for every thread together: keep what fits and say so.
            rows, truncated = rows[: self.max_values // width], True
        held = _Held(thread, result.columns, rows, 0, len(rows), truncated, now + CURSOR_TTL_SECONDS)
        page = self._page(held)
        if held.position < held.total:
            cursor = secrets.token_urlsafe(12)
            self._evict(now, room=(held.total - held.position) * width)
            self._held[cursor] = held
            page["next_cursor"] = cursor
        return page

    def next(self, thread: ThreadKey, cursor: str, now: float) -> dict[str, Any]:
        self._evict(now)
        held = self._held.get(cursor)
        if held is None or held.thread != thread:
            raise Refused("that cursor is unknown or expired: run the query again")
        page = self._page(held)
        if held.position < held.total:
            held.expires = now + CURSOR_TTL_SECONDS
            self._held.move_to_end(cursor)
            page["next_cursor"] = cursor
        else:
            del self._held[cursor]
        return page

    def _page(self, held: _Held) -> dict[str, Any]:
        start = end = held.position
        size = 0
        while end < held.total:
            row_size = len(json.dumps(held.rows[end], ensure_ascii=False, default=str)) + 2  # ", "
            if end > start and size + row_size > self.page_bytes:
                break  # a page holds at least one row, however long
            size += row_size
            end += 1
        held.position = end
        return {
            "columns": held.columns,
            "rows": held.rows[start:end],
            "first_row": start,
            "total_rows": held.total,
            "truncated": held.truncated,
            "next_cursor": None,
        }

    def _evict(self, now: float, room: int = 0) -> None:
        """Drop expired cursors, then the least recently used until `room` more values fit."""
        for cursor in [c for c, h in self._held.items() if h.expires < now]:
            del self._held[cursor]
        values = sum((h.total - h.position) * max(1, len(h.columns)) for h in self._held.values())
        while values + room > self.max_values and self._held:
            _, oldest = self._held.popitem(last=False)
            values -= (oldest.total - oldest.position) * max(1, len(oldest.columns))


def register(registry: ToolRegistry, runner: SqlRunner, *, audit: Auditor | None = None) -> None:
    """Add the data tools for the declared sources (nothing when there are none)."""
    if not runner.sources:
        return
    registry.add_note(sources_prompt(runner))
    pages = Pages()
    names = ", ".join(f"`{n}`" for n in sorted(runner.sources))

    async def sql_query(ctx: ToolContext, tool_input: dict[str, Any]) -> dict[str, Any]:
        source = str(tool_input.get("source", ""))
        statement = str(tool_input.get("query", ""))
        _allowed_here(ctx, source)
        params = tool_input.get("params") or []
        if not isinstance(params, list):
            raise ToolFailed("`params` must be a list of values for the query's placeholders")
        try:
            result = await runner.query(source, statement, params)
        except Refused as exc:
            await _audit(audit, ctx, source, statement, 0, 0, f"refused: {exc}")
            raise ToolFailed(f"Refused: {exc}.") from exc
        await _audit(audit, ctx, source, statement, len(result.rows), result.elapsed_ms, "ok")
        page = pages.first(ctx.key, result, time.monotonic())
        page["elapsed_ms"] = result.elapsed_ms
        return page

    async def sql_more(ctx: ToolContext, tool_input: dict[str, Any]) -> dict[str, Any]:
        try:
            return pages.next(ctx.key, str(tool_input.get("cursor", "")), time.monotonic())
        except Refused as exc:
            raise ToolFailed(f"Refused: {exc}.") from exc

    async def list_tables(ctx: ToolContext, tool_input: dict[str, Any]) -> list[dict[str, str]]:
        _allowed_here(ctx, str(tool_input.get("source", "")))
        try:
            return await runner.tables(str(tool_input.get("source", "")))
        except Refused as exc:
            raise ToolFailed(f"Refused: {exc}.") from exc

    async def describe_table(ctx: ToolContext, tool_input: dict[str, Any]) -> dict[str, Any]:
        _allowed_here(ctx, str(tool_input.get("source", "")))
        try:
            return await runner.describe(str(tool_input.get("source", "")), str(tool_input.get("table", "")))
        except Refused as exc:
            raise ToolFailed(f"Refused: {exc}.") from exc

    source_prop = {"type": "string", "description": f"The data source: one of {names}."}
    registry.add(
        "sql_query",
        "Run one read-only SQL query (SELECT or WITH ... SELECT) on a company data source and get its "
        "rows as JSON: {columns, rows, first_row, total_rows, truncated, next_cursor}. Rows come in pages: "
        "while next_cursor is set, call sql_more with it. `truncated` means the source's row cap cut the "
        "result: aggregate in SQL instead. Use placeholders for values ($1, $2 on PostgreSQL; ? on SQLite) "
        "with `params`.",
        {
            "type": "object",
            "properties": {
                "source": source_prop,
                "query": {"type": "string", "description": "One SELECT statement."},
                "params": {"type": "array", "description": "Values for the placeholders, in order."},
            },
            "required": ["source", "query"],
        },
        sql_query,
        caller="code",
    )
    registry.add(
        "sql_more",
        "The next page of a sql_query result: same shape, with next_cursor set while more rows remain.",
        {
            "type": "object",
            "properties": {"cursor": {"type": "string", "description": "next_cursor of the previous page."}},
            "required": ["cursor"],
        },
        sql_more,
        caller="code",
    )
    registry.add(
        "list_tables",
        "The tables and views of a data source this bot may read: [{schema?, name, type}].",
        {"type": "object", "properties": {"source": source_prop}, "required": ["source"]},
        list_tables,
        caller="code",
    )
    registry.add(
        "describe_table",
        "The columns of one table (name, type, nullable) and its approximate row count.",
        {
            "type": "object",
            "properties": {
                "source": source_prop,
                "table": {"type": "string", "description": "The table, optionally as schema.table."},
            },
            "required": ["source", "table"],
        },
        describe_table,
        caller="code",
    )


def _allowed_here(ctx: ToolContext, source: str) -> None:
    """A channel's admin may limit which sources its threads query (`/claude config`): enforced here,
    not left to the prompt."""
    if ctx.data_sources is not None and source not in ctx.data_sources:
        allowed = ", ".join(f"`{s}`" for s in sorted(ctx.data_sources)) or "none"
        raise ToolFailed(
            f"Refused: the source {source!r} is not available in this channel (its sources: {allowed})."
        )


def sources_note(allowed: frozenset[str] | None) -> str:
    """What the system prompt says when a channel may query only some of the sources."""
    if allowed is None:
        return ""
    if not allowed:
        return "# Company data in this channel\nThis channel has no company data sources: do not call `sql_query`."
    names = ", ".join(f"`{s}`" for s in sorted(allowed))
    return f"# Company data in this channel\nIn this channel you may query only these sources: {names}."


async def _audit(
    audit: Auditor | None, ctx: ToolContext, source: str, statement: str, rows: int, ms: int, outcome: str
) -> None:
    if audit is None:
        return
    try:
        await audit(QueryAudit(ctx.user_id, ctx.key, source, statement, rows, ms, outcome))
    except Exception:
        # The query's answer is not withheld for a failed audit write, but it must show in the log.
        log.exception("could not write the audit record of a query on %s", source)


def sources_prompt(runner: SqlRunner) -> str:
    """The lines of the system prompt that tell Claude about the sources (constant: it caches)."""
    if not runner.sources:
        return ""
    lines = [
        "# Company data",
        "Read-only SQL data sources you can query from Python with `await sql_query({...})` (see the tool "
        "descriptions). Load results into pandas and keep analysing in the REPL:",
        "```python",
        "import json, pandas as pd",
        'page = json.loads(await sql_query({"source": "<name>", "query": "SELECT ..."}))',
        'rows = page["rows"]',
        'while page["next_cursor"]:',
        '    page = json.loads(await sql_more({"cursor": page["next_cursor"]}))',
        '    rows += page["rows"]',
        'df = pd.DataFrame(rows, columns=page["columns"])',
        "```",
        "Aggregate in SQL when a table is large. The sources:",
    ]
    for source in sorted(runner.sources.values(), key=lambda s: s.name):
        info = source.for_claude()
        tables = f" Tables: {', '.join(info['tables'])}." if "tables" in info else ""
        lines.append(f"- `{source.name}` ({info['engine']}): {source.description}{tables}")
    return "\n".join(lines)
