"""Where the store's SQL runs: one transaction = one synchronous function over a SQLAlchemy Connection.

The repository writes each operation once, as plain SQLAlchemy Core on a sync `Connection`; this
module runs it on whichever engine the URL names:

* PostgreSQL (`postgresql+asyncpg://`): SQLAlchemy's async engine, the function via `run_sync`
  (asyncpg is natively async; no threads involved).
* SQLite (`sqlite+aiosqlite://`, the default): the same function on a sync pysqlite engine inside
  one dedicated thread. Through aiosqlite every DBAPI call (cursor, execute, fetch, commit) is a
  separate hop to its thread and back: some eighty per turn, which measured at 12 ms of CPU per turn
  and serialised every turn behind them. One hop per transaction costs a fraction of that, and SQLite
  allows one writer at a time anyway. The URL keeps the async driver name, as SQLAlchemy async URLs
  are the public contract (DATABASE_URL). Work in that thread runs by priority: the durable inbox
  first, because Slack events are acknowledged only once they are stored.

Inbox writes on SQLite commit with `synchronous=FULL`, everything else with `NORMAL`. In WAL mode
NORMAL does not sync the log at each commit, so the last transactions can be rolled back by a power
loss or an OS crash (sqlite.org/pragma.html#pragma_synchronous); a stored message is acknowledged to
Slack, which then never sends it again, so that commit must be on disk. A turn's own writes need not
be: what a power loss takes of them is recovered like any interrupted turn, and syncing each of them
would serialise every turn behind a disk flush.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import data_dir_for

T = TypeVar("T")
log = logging.getLogger(__name__)
_WRITE = "bot_write"
_SYNCHRONOUS = "bot_synchronous"
# Priorities of work in the SQLite thread (lower first): the inbox, which Slack's acknowledgements
# wait for (and which commits durably, see above); then what a person is waiting to see (a turn's
# first post and its final save, each committed before Slack shows it); then everything else.
INBOX = 0
ANSWER = 1
NORMAL = 2


class _SqliteThread:
    """One thread that owns every SQLite call, taking queued work by priority, then arrival."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any] | None, Future[Any] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="sqlite", daemon=True)
        self._thread.start()

    def submit(self, priority: int, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((priority, next(self._order), fn, future))
        return future

    def _run(self) -> None:
        while True:
            _, _, fn, future = self._queue.get()
            if fn is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self) -> None:
        self._queue.put((NORMAL + 1, next(self._order), None, None))
        self._thread.join()


class Database:
    """The engine plus `write`/`read`, each running one function in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._thread: _SqliteThread | None = None
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        if self.is_sqlite:
            data_dir = data_dir_for(url)
            if data_dir is not None:
                data_dir.mkdir(parents=True, exist_ok=True)
            self._sync = create_engine(url.replace("sqlite+aiosqlite", "sqlite", 1))
            _tune_sqlite(self._sync)
            self._thread = _SqliteThread()
        else:
            self._async = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)

    async def write(self, fn: Callable[[Connection], T], *, priority: int = NORMAL) -> T:
        """Run `fn` in a write transaction (committed on return, rolled back on error); `priority`
        orders it in the SQLite thread (PostgreSQL runs transactions side by side)."""
        if self._async is not None:
            return await self._on_postgres(fn, write=True)
        return await self._in_thread(priority, lambda: self._sqlite(fn, True, durable=priority == INBOX))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        if self._async is not None:
            return await self._on_postgres(fn, write=False)
        return await self._in_thread(NORMAL, lambda: self._sqlite(fn, False))

    async def _on_postgres(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run `fn` in one transaction; once more on a fresh connection when the server dropped the
        connection under it (PostgreSQL restarted, pg_terminate_backend, a proxy timing out).

        SQLAlchemy discards such a connection from the pool (`connection_invalidated`), and the server
        rolled the transaction back when the connection ended, so running it again is running it once.
        (Only a connection lost during COMMIT itself leaves the outcome unknown: that window is not
        covered.) Without this, a restart of the database failed the turns and events in flight at
        that moment: a turn ended with "Something went wrong" and no Retry."""
        assert self._async is not None
        for attempt in (1, 2):
            try:
                if write:
                    async with self._async.begin() as conn:
                        return await conn.run_sync(fn)
                async with self._async.connect() as conn:
                    return await conn.run_sync(fn)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                log.warning("the database connection was lost mid-transaction; running it again")
        raise AssertionError("unreachable")

    async def _in_thread(self, priority: int, fn: Callable[[], T]) -> T:
        assert self._thread is not None
        return await asyncio.wrap_future(self._thread.submit(priority, fn))

    def _sqlite(self, fn: Callable[[Connection], T], write: bool, *, durable: bool = False) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            _synchronous(conn, "FULL" if durable else "NORMAL")
            conn = conn.execution_options(**{_WRITE: write})
            with conn.begin():
                return fn(conn)

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has `on_conflict_do_nothing` on both SQLite and PostgreSQL
        (typed Any: the two dialect classes share that method but no base class declares it)."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    async def migrate(self, fn: Callable[[Connection], T]) -> T:
        """`fn` on a plain connection that it manages itself (Alembic opens its own transaction)."""
        if self._async is not None:
            async with self._async.connect() as conn:
                result = await conn.run_sync(fn)
                await conn.commit()
                return result

        def run() -> T:
            assert self._sync is not None
            with self._sync.connect() as conn:
                result = fn(conn)
                conn.commit()
                return result

        return await self._in_thread(NORMAL, run)

    async def close(self) -> None:
        if self._async is not None:
            await self._async.dispose()
        if self._sync is not None:
            await self._in_thread(NORMAL, self._sync.dispose)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown)


def _synchronous(conn: Connection, level: str) -> None:
    """Set the connection's `synchronous` level for its next commit. SQLite refuses to change it inside
    a transaction, so it is set on the DBAPI connection (autocommit, see _tune_sqlite) before SQLAlchemy
    begins one; the level in force is remembered with the pooled connection to skip a needless PRAGMA."""
    if conn.info.get(_SYNCHRONOUS) == level:
        return
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA synchronous={level}")
    cursor.close()
    conn.info[_SYNCHRONOUS] = level


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SQLAlchemy's
        # documented pysqlite recipe), so writes can use BEGIN IMMEDIATE and take the write lock
        # up front when another process shares the file.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        record.info[_SYNCHRONOUS] = "NORMAL"  # until _synchronous says otherwise
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
