"""Engines and the unit of work.

Writes run in `db.tx()`: one short transaction. On SQLite it starts with BEGIN IMMEDIATE, so that two writers
never both read-then-write; on PostgreSQL the repositories take row locks (SELECT ... FOR UPDATE) or use
conditional updates. Reads use `db.read()`: one snapshot on SQLite, autocommit statements on PostgreSQL (under
READ COMMITTED a transaction would give them no common snapshot anyway). Every statement runs, and fails, at the
line that awaits it: through SQLAlchemy's `execute`, or compiled once and run on the driver (`Conn.run`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson
import structlog
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, CursorResult, Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable

from gyeol.db import commits, sqlite
from gyeol.db.compiled import Compiled

# A writer waiting this long for the one SQLite write lock of its process gives up (a nested tx() would wait forever).
WRITE_LOCK_WAIT_S = 30.0
POOL_WAIT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")
log = structlog.get_logger(__name__)
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
# Told of each wait for a connection: the pool waited on, the seconds waited, and whether the wait gave up.
WaitObserver = Callable[[str, float, bool], None]


class Conn:
    """A connection inside `Database.tx()` or `Database.read()`: `execute` runs any SQLAlchemy statement, `run` a
    statement compiled once (`db.compiled`) on the driver's connection, in the same transaction."""

    __slots__ = ("dialect", "_sync", "_async", "_driver")

    def __init__(self, sync: Connection | None = None, async_: AsyncConnection | None = None, *,
                 driver: Any = None) -> None:
        self._sync, self._async = sync, async_
        self.dialect: Dialect = (sync or async_).dialect  # type: ignore[union-attr]
        self._driver: Any = sync.connection.driver_connection if sync is not None else driver

    async def execute(self, stmt: Executable, params: Params = None) -> CursorResult[*tuple[Any, ...]]:
        if self._sync is not None:
            sync = self._sync
            return await sqlite.patiently(lambda: sync.execute(stmt, params))
        assert self._async is not None
        return await self._async.execute(stmt, params)

    async def run(self, c: Compiled, params: Mapping[str, Any]) -> tuple[list[Any], int]:
        """The rows (as the driver gives them) and the row count of a compiled statement."""
        args = c.args(dict(params))
        if self._sync is not None:
            driver = self._driver
            try:
                cur = await sqlite.patiently(lambda: driver.execute(c.sql, args))
            except sqlite3.Error as exc:
                raise _wrapped(c.sql, args, exc) from exc
            return (cur.fetchall() if cur.description else []), cur.rowcount
        assert self._async is not None
        if self._driver is None:
            self._driver = (await self._async.get_raw_connection()).driver_connection
        if c.columns:
            return await _on_driver(self._async, c.sql, self._driver.fetch(c.sql, *args), args), -1
        status: str = await _on_driver(self._async, c.sql, self._driver.execute(c.sql, *args), args)
        return [], int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0  # "UPDATE 1", "INSERT 0 1"


async def _on_driver(conn: AsyncConnection, sql: str, call: Awaitable[T], args: Any = None) -> T:
    """A call on asyncpg's connection, failing as SQLAlchemy's `execute` would; a lost connection is invalidated,
    and SQLAlchemy's pool replaces it."""
    try:
        return await call
    except BaseException as exc:
        # Only an error the server answered about the statement leaves the connection fit to lend again; a
        # lost connection, one the driver can no longer use, or a call cut off midway (a cancelled task) is not.
        if not _statement_error(exc):
            await conn.invalidate()
        if not isinstance(exc, Exception):
            raise
        if isinstance(exc, (*_LOST, asyncpg.InterfaceError, OSError)):
            # The server went away: the pool's idle connections went with it. Replace the pool, as SQLAlchemy
            # does when its own statement finds the connection lost.
            await conn.engine.dispose()
        raise _wrapped(sql, args, exc) from exc


async def _begin(raw: Any) -> Any:
    transaction = raw.transaction()
    await transaction.start()
    return transaction


def _statement_error(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, _LOST)


_LOST = (asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError, asyncpg.CannotConnectNowError,
         asyncpg.CrashShutdownError)


def _wrapped(sql: str, args: Any, exc: Exception) -> DBAPIError:
    """A driver's error as SQLAlchemy's, as `execute` raises it: callers tell a unique key taken or a lost
    connection from other failures by SQLAlchemy's exceptions."""
    if isinstance(exc, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, args, exc)
    if isinstance(exc, sqlite3.OperationalError) or not isinstance(exc, sqlite3.Error | asyncpg.PostgresError) \
            or isinstance(exc, _LOST):
        return OperationalError(sql, args, exc)
    return DBAPIError(sql, args, exc)


def async_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        u = u.set(drivername="sqlite")
    elif u.drivername.startswith("postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    u = make_url(url)
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        return u.database
    return None


def ensure_sqlite_dir(url: str) -> None:
    path = sqlite_file(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def _waiting(lock: asyncio.Lock | asyncio.Semaphore, seconds: float, pool: str,
                   on_wait: WaitObserver | None) -> AsyncIterator[None]:
    """Hold `lock`, waiting at most `seconds` for it (a timer only when there is a wait); past that, the database is
    as busy as a pool with no free connection (`database_unreachable`). A wait is reported to `on_wait` (the
    metrics); taking a free connection reports nothing."""
    if lock.locked():
        began = time.perf_counter()
        try:
            async with asyncio.timeout(seconds):
                await lock.acquire()
        except TimeoutError:
            if on_wait is not None:
                on_wait(pool, time.perf_counter() - began, True)
            raise PoolTimeout(f"No database connection came free within {seconds:g} s.") from None
        if on_wait is not None:
            on_wait(pool, time.perf_counter() - began, False)
    else:
        await lock.acquire()
    try:
        yield
    finally:
        lock.release()


async def _close_all(conns: list[tuple[AsyncConnection, Any]], *, invalidate: bool) -> None:
    """Close lent connections; `invalidate`: they are not fit to go back to the pool either. A connection the
    server dropped may fail to close: that never hides the error being handled."""
    for pg, _ in conns:
        try:
            if invalidate and not pg.invalidated:
                await pg.invalidate()
            await pg.close()
        except Exception as exc:
            log.warning("database_connection_not_closed", error=type(exc).__name__)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def database_unreachable(exc: BaseException) -> bool:
    """Whether a statement failed for want of the database (a lost connection, a refused one, no free connection
    in the pool, SQLite's lock held too long or its file not writable), not for what it asked."""
    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def _connect(engine: AsyncEngine) -> tuple[AsyncConnection, Any]:
    """A new connection and its asyncpg connection. Failing to get one is the database being unreachable, however
    it fails: refused or reset (an OSError that SQLAlchemy passes on as it is), shutting down or starting up, too
    many clients, the database not accepting connections."""
    try:
        pg = await engine.connect()
    except Exception as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        raise OperationalError("connect", None, cause) from exc
    return pg, (await pg.get_raw_connection()).driver_connection


def _driver_call(sql: str, call: Callable[[], T]) -> T:
    """A call on SQLite's own connection, failing as SQLAlchemy's `execute` would."""
    try:
        return call()
    except sqlite3.Error as exc:
        raise _wrapped(sql, None, exc) from exc


class Database:
    def __init__(self, url: str, *, pool_size: int = 20, on_wait: WaitObserver | None = None) -> None:
        ensure_sqlite_dir(url)
        self.url = url
        self.on_wait = on_wait
        self.is_sqlite = url.startswith("sqlite")
        json = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
        if self.is_sqlite:
            self.sync_engine = create_engine(sync_url(url), pool_size=pool_size, max_overflow=0,
                                             pool_timeout=POOL_WAIT_S, connect_args={"check_same_thread": False},
                                             **json)
            sqlite.configure(self.sync_engine)
            # One writer at a time in SQLite: this process's writers queue on an asyncio lock, on one connection
            # kept for them, instead of retrying the file lock against each other.
            self._write_lock = asyncio.Lock()
            self._writer: Connection | None = None
            self._checkpointer: sqlite.Checkpointer | None = None
            # Readers wait here, on the loop, for one of the pool's other connections: the synchronous pool's own
            # wait would block the loop, and with it the readers that would give theirs back.
            self._readers = asyncio.Semaphore(pool_size - 1)
        else:
            # SQLAlchemy's connections are autocommit: `tx()` begins and ends the transaction itself, on the
            # driver (asyncpg's `transaction()`), so that SQLAlchemy's statements and the compiled ones run in it
            # alike. A read is autocommit statements (under READ COMMITTED a transaction would give them no
            # common snapshot anyway). Every transaction is ended explicitly: no reset at check-in.
            # A connection that does not come within CONNECT_TIMEOUT_S (a database host that answers nothing) is
            # given up, as a refused one is, instead of after asyncpg's minute.
            self.engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT", pool_size=pool_size,
                                              max_overflow=10, pool_timeout=POOL_WAIT_S, pool_reset_on_return=None,
                                              connect_args={"timeout": CONNECT_TIMEOUT_S}, **json)
            # Connections are checked out of SQLAlchemy's pool once and then lent here, on the loop, first come
            # first served: a check-out and check-in through the pool costs a greenlet switch each way and a
            # wait with a task and a timer of its own for each caller beyond the pool's size.
            self._borrowers = asyncio.Semaphore(pool_size + 10)
            self._idle: list[tuple[AsyncConnection, Any]] = []

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        if not self.is_sqlite:
            async with self._connection() as (pg, raw):
                transaction = await _on_driver(pg, "BEGIN", _begin(raw))
                try:
                    yield Conn(async_=pg, driver=raw)
                except BaseException:
                    if not raw.is_closed():
                        await _on_driver(pg, "ROLLBACK", transaction.rollback())
                    raise
                await _on_driver(pg, "COMMIT", transaction.commit())
            commits.committed()
            return
        async with _waiting(self._write_lock, WRITE_LOCK_WAIT_S, "sqlite_write", self.on_wait):
            conn = self._writer or self._open_writer()
            driver: Any = conn.connection.driver_connection
            try:
                await sqlite.patiently(lambda: driver.execute("BEGIN IMMEDIATE"))
            except sqlite3.Error as exc:
                raise _wrapped("BEGIN IMMEDIATE", None, exc) from exc
            try:
                yield Conn(sync=conn)
            except BaseException:
                self._end(conn, commit=False)
                raise
            self._end(conn, commit=True)
        commits.committed()

    def _open_writer(self) -> Connection:
        conn = self.sync_engine.connect()
        path = sqlite_file(self.url)
        if path is not None:
            if self._checkpointer is None:
                self._checkpointer = sqlite.Checkpointer(path)
            self._checkpointer.hand_over_checkpoints(conn.connection.driver_connection)  # type: ignore[arg-type]
        self._writer = conn
        return conn

    def _end(self, conn: Connection, *, commit: bool) -> None:
        """End the writer's transaction; SQLAlchemy began its own inside it when it ran a statement."""
        try:
            if conn.in_transaction():
                conn.commit() if commit else conn.rollback()
            driver = conn.connection.driver_connection
            if driver is not None and driver.in_transaction:
                _driver_call("COMMIT" if commit else "ROLLBACK", driver.commit if commit else driver.rollback)
        except BaseException:
            self._writer = None  # a writer that cannot end its transaction is not lent again
            conn.invalidate()
            conn.close()
            raise

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Conn]:
        """For writes each of which is a transaction by itself, whatever the others do (an idempotency key's
        answer, the sandbox PG's record): on PostgreSQL no BEGIN and COMMIT round trips around them."""
        if self.is_sqlite:
            async with self.tx() as conn:
                yield conn
            return
        async with self._connection() as (pg, raw):
            yield Conn(async_=pg, driver=raw)
        commits.committed()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        if not self.is_sqlite:
            async with self._connection() as (pg, raw):
                yield Conn(async_=pg, driver=raw)
            return
        async with _waiting(self._readers, POOL_WAIT_S, "sqlite_read", self.on_wait):
            with self.sync_engine.connect() as sync:
                driver: Any = sync.connection.driver_connection
                # One snapshot for the read's statements, whichever way they run.
                _driver_call("BEGIN", lambda: driver.execute("BEGIN"))
                try:
                    yield Conn(sync=sync)
                finally:
                    if sync.in_transaction():
                        sync.rollback()
                    if driver.in_transaction:
                        driver.rollback()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[tuple[AsyncConnection, Any]]:
        """A PostgreSQL connection and its asyncpg connection, lent for one transaction or read. One that was
        lost is closed, and with it every idle one."""
        async with _waiting(self._borrowers, POOL_WAIT_S, "postgresql", self.on_wait):
            if self._idle:
                pg, raw = self._idle.pop()
            else:
                pg, raw = await _connect(self.engine)
            try:
                yield pg, raw
            finally:
                # Lent again only as it was taken: open, and in no transaction (one a cut-off call left). A lost
                # connection (invalidated where its call failed) says the database may have gone away: the idle
                # ones are not trusted either.
                if pg.invalidated or raw.is_closed():
                    lost, self._idle = [(pg, raw), *self._idle], []
                    await _close_all(lost, invalidate=True)
                elif raw.is_in_transaction():
                    await _close_all([(pg, raw)], invalidate=True)
                else:
                    self._idle.append((pg, raw))

    async def dispose(self) -> None:
        if not self.is_sqlite:
            idle, self._idle = self._idle, []
            await _close_all(idle, invalidate=False)
            await self.engine.dispose()
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.sync_engine.dispose()
