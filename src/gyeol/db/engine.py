"""Engines and the unit of work.

Writes run in `db.tx()`: one short transaction. On SQLite it starts with BEGIN IMMEDIATE so
that two writers never both read-then-write; on PostgreSQL the repositories take row locks
(SELECT ... FOR UPDATE) or use conditional updates. Reads use `db.read()`: one snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gyeol.db import prepared
from gyeol.db.sqlite_inloop import Checkpointer

registry.register("sqlite.gyeol", "gyeol.db.sqlite_inloop", "SQLiteDialect_inloop")
# A writer waiting this long for the one SQLite write lock of its process gives up (a nested tx() would wait forever).
WRITE_LOCK_WAIT_S = 30.0
POOL_WAIT_S = 30.0


class FirstWrite:
    """What a request must commit with its first write transaction, never alone: its idempotency key
    (core.idempotency), so that claiming the key costs no commit of its own. Bound to the request's task with
    `bound()`; the first `Database.tx()` or `autocommit()` in that task writes it, right after BEGIN."""

    committed = False
    _writing = False
    _task: asyncio.Task[Any] | None = None

    async def write(self, conn: AsyncConnection) -> None:
        raise NotImplementedError

    @contextmanager
    def bound(self) -> Iterator[None]:
        self._task = asyncio.current_task()
        token = _first_write.set(self)
        try:
            yield
        finally:
            _first_write.reset(token)


_first_write: ContextVar[FirstWrite | None] = ContextVar("gyeol_first_write", default=None)


def _first_write_due() -> FirstWrite | None:
    # Only in the task that bound it: a task spawned meanwhile inherits the context, not the duty.
    fw = _first_write.get()
    if fw is None or fw.committed or fw._writing or fw._task is not asyncio.current_task():
        return None
    return fw


def async_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"):  # aiosqlite URLs from older configs
        u = u.set(drivername="sqlite+gyeol")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
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
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)


class Database:
    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        ensure_sqlite_dir(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        overflow = 0 if self.is_sqlite else 10
        self.engine: AsyncEngine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=overflow,
                                                       pool_pre_ping=False, json_serializer=_json_text,
                                                       json_deserializer=orjson.loads)
        if self.is_sqlite:
            _sqlite_hooks(self.engine)
        else:  # writes held by `prepared.write` go before any statement of SQLAlchemy's in the same transaction
            event.listen(self.engine.sync_engine, "before_cursor_execute",
                         lambda conn, *_: prepared.flush_before_sqlalchemy(conn))
        # Connections stay checked out of SQLAlchemy's pool, on a free list of ours: the pool's check-out and
        # reset cost more than a read on a local file. SQLite has one writer at a time: this process's writers
        # queue on the lock, on one connection kept for them, instead of retrying the file lock.
        self._write_lock = asyncio.Lock()
        self._writer: AsyncConnection | None = None
        self._checkpointer: Checkpointer | None = None
        self._idle: list[AsyncConnection] = []
        # Borrowers wait here, not in the pool: a connection given back to the free list never reaches the
        # pool's own queue of waiters. SQLite's writer keeps one of its connections.
        self._slots = asyncio.Semaphore(pool_size - 1 if self.is_sqlite else pool_size + overflow)

    async def _lend(self) -> AsyncConnection:
        await _acquire(self._slots, POOL_WAIT_S)
        try:
            return self._idle.pop() if self._idle else await self.engine.connect()
        except BaseException:
            self._slots.release()
            raise

    async def _take_back(self, conn: AsyncConnection, healthy: bool) -> None:
        try:
            if healthy and not conn.invalidated and not conn.closed:
                self._idle.append(conn)
            else:
                await _drop(conn)
        finally:
            self._slots.release()

    @asynccontextmanager
    async def _pg(self, *, begin: bool) -> AsyncIterator[AsyncConnection]:
        conn = await self._lend()
        try:
            if begin:
                await conn.begin()
            yield conn
            await prepared.flush(conn)
            if conn.in_transaction():
                await conn.commit()
        except BaseException:
            prepared.discard(conn)
            await self._take_back(conn, await _pg_recovered(conn))
            raise
        await self._take_back(conn, True)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncConnection]:
        fw = _first_write_due()
        if fw is None:
            async with self._tx() as conn:
                yield conn
            return
        fw._writing = True
        try:
            async with self._tx() as conn:
                await fw.write(conn)
                yield conn
            fw.committed = True
        finally:
            fw._writing = False

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        if not self.is_sqlite:
            async with self._pg(begin=True) as conn:
                yield conn
            return
        async with self._sqlite_writer() as conn, _sqlite_tx(conn, "BEGIN IMMEDIATE", commit=True):
            yield conn

    @asynccontextmanager
    async def _sqlite_writer(self) -> AsyncIterator[AsyncConnection]:
        """This process's one SQLite writer connection, held under the write lock."""
        await _acquire(self._write_lock, WRITE_LOCK_WAIT_S)
        try:
            if self._writer is None:
                self._writer = await self._sqlite_writer_connection()
            conn = self._writer
            try:
                yield conn
            except BaseException:
                if not _sqlite_healthy(conn):
                    self._writer = None
                    await _drop(conn)
                raise
        finally:
            self._write_lock.release()

    async def _sqlite_writer_connection(self) -> AsyncConnection:
        conn = await self.engine.connect()
        path = sqlite_file(self.url)
        if path is not None:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(path)
            self._checkpointer.relieve(prepared.sqlite_cursor(_driver(conn)))
        return conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        if not self.is_sqlite:
            async with self._pg(begin=False) as conn:
                yield conn
            return
        conn = await self._lend()
        try:
            async with _sqlite_tx(conn, "BEGIN", commit=False):
                yield conn
        finally:
            await self._take_back(conn, _sqlite_healthy(conn))

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """For one prepared write that is a transaction by itself (no BEGIN and COMMIT around it)."""
        if _first_write_due() is not None:
            async with self.tx() as conn:
                yield conn
            return
        if not self.is_sqlite:
            async with self._pg(begin=False) as conn:
                yield conn
            return
        async with self._sqlite_writer() as conn, _sqlite_tx(conn, None, commit=True):
            yield conn

    async def dispose(self) -> None:
        held, self._idle = [*self._idle, *([self._writer] if self._writer else [])], []
        self._writer = None
        for conn in held:
            await conn.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        await self.engine.dispose()


def _json_text(value: Any) -> str:
    # orjson, not the json module: a payment writes five outbox payloads, and json.dumps was ~5 % of its CPU.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def _acquire(lock: asyncio.Lock | asyncio.Semaphore, seconds: float) -> None:
    # A timer only when there is a wait: each one lingers in the loop's heap for its whole span once cancelled,
    # holding its context, and there are several per payment.
    if not lock.locked():
        await lock.acquire()
        return
    async with asyncio.timeout(seconds):
        await lock.acquire()


async def _drop(conn: AsyncConnection) -> None:
    """Give a broken connection back to the pool for good (closing it frees its pool slot)."""
    try:
        if not conn.invalidated and not conn.closed:
            await conn.invalidate()
    finally:
        await conn.close()


async def _pg_recovered(conn: AsyncConnection) -> bool:
    """After an error inside `Database`: is the connection fit to lend again? A failed statement or a domain
    error leaves it fine once any transaction is rolled back; a lost connection does not."""
    if conn.invalidated or conn.closed or _driver(conn).is_closed():
        return False
    try:
        if conn.in_transaction():
            await conn.rollback()
    except Exception:
        return False
    return True


def _driver(conn: AsyncConnection) -> Any:
    sync = conn.sync_connection
    assert sync is not None
    return sync.connection.driver_connection


def _sqlite_healthy(conn: AsyncConnection) -> bool:
    try:
        return not _driver(conn).in_transaction
    except Exception:
        return False


@asynccontextmanager
async def _sqlite_tx(conn: AsyncConnection, begin: str | None, *, commit: bool) -> AsyncIterator[None]:
    """A transaction begun and ended on the driver (`begin=None`: statements that commit by themselves). If
    SQLAlchemy itself ran a statement in it, it thinks it began one (the begin hook sees the open transaction and
    does nothing), so it is ended through SQLAlchemy too."""
    driver = _driver(conn)
    if begin is not None:
        await prepared.sqlite_call(None, lambda: prepared.sqlite_cursor(driver).execute(begin))
    try:
        yield  # nothing is held on SQLite (prepared.write runs at once): nothing to flush
    except BaseException:
        if conn.in_transaction():
            await conn.rollback()
        elif driver.in_transaction:
            prepared.sqlite_cursor(driver).execute("ROLLBACK")
        raise
    if conn.in_transaction():
        await (conn.commit() if commit else conn.rollback())
    elif driver.in_transaction:
        end = "COMMIT" if commit else "ROLLBACK"
        await prepared.sqlite_call(None, lambda: prepared.sqlite_cursor(driver).execute(end))


def _sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun explicitly (see _sqlite_tx), so that a writer's can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        if not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("BEGIN")  # outside Database (migrations, ad hoc tools)
