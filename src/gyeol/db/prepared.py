"""Prepared statements for the hot path: a SQLAlchemy Core statement, compiled once per dialect, run on the
driver's own connection inside the transaction that `Database.tx()` / `Database.read()` opened.

SQLAlchemy's `execute` spends 40-90 µs of Python on every statement (cache key, execution context, result
wrapping) around a statement that takes sqlite3 about 5 µs; a payment runs two dozen of them. The hot path's
statements are fixed, so they are compiled once, and their SQL, parameter order and type conversions (JSON,
booleans) are SQLAlchemy's own; UTC datetimes on SQLite take `UTCDateTime`'s faster path to the same text.
Everything else keeps using `conn.execute`.

It reads a compiled statement's bind and result processors and opens the asyncpg adapter's lazy transaction:
SQLAlchemy internals, which is why SQLAlchemy is pinned to one release; tests/test_prepared.py checks them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.db.sqlite_inloop import backoff, busy
from gyeol.db.types import UTCDateTime

Row = dict[str, Any]
Processor = Callable[[Any], Any]


class _Compiled:
    __slots__ = ("sql", "names", "defaults", "columns", "_bind_at", "_result_at")

    def __init__(self, stmt: sa.Executable, dialect: Dialect) -> None:
        c = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        if "POSTCOMPILE" in c.string:
            raise ValueError("an expanding IN cannot be prepared; spell it as OR of equalities")
        self.sql: str = c.string
        self.names: tuple[str, ...] = tuple(c.positiontup or ())
        # Constants written into the statement (`status == "unknown"`) are bind parameters with a value.
        self.defaults = {name: bp.effective_value for name, bp in c.binds.items() if not bp.required}
        processors = c._bind_processors
        sqlite = dialect.name == "sqlite"
        binds = (UTCDateTime.sqlite_bind if sqlite and isinstance(c.binds[n].type, UTCDateTime) else processors.get(n)
                 for n in self.names)
        # Most values need no conversion (text, integers): only the positions that do are visited.
        self._bind_at: tuple[tuple[int, Processor], ...] = tuple((i, p) for i, p in enumerate(binds) if p is not None)
        entries = c._result_columns
        self.columns: tuple[str, ...] = tuple(e.keyname for e in entries)
        results = (UTCDateTime.sqlite_result if sqlite and isinstance(e.type, UTCDateTime)
                   else e.type._cached_result_processor(dialect, None) for e in entries)
        self._result_at: tuple[tuple[str, Processor], ...] = tuple(
            (k, p) for k, p in zip(self.columns, results, strict=True) if p is not None)

    def args(self, params: Row) -> list[Any]:
        if self.defaults:
            params = {**self.defaults, **params}
        out = [params[name] for name in self.names]
        for i, proc in self._bind_at:
            if out[i] is not None:
                out[i] = proc(out[i])
        return out

    def row(self, values: Sequence[Any]) -> Row:
        row = dict(zip(self.columns, values, strict=True))
        for key, proc in self._result_at:
            if row[key] is not None:
                row[key] = proc(row[key])
        return row


class Prepared:
    """One statement; bind parameters are named with `sa.bindparam(name)` and given as a dict. `build` makes it
    per dialect, for constructs only one dialect compiles (ON CONFLICT)."""

    __slots__ = ("stmt", "_build", "_by_dialect")

    def __init__(self, stmt: sa.Executable | None = None, *,
                 build: Callable[[str], sa.Executable] | None = None) -> None:
        assert (stmt is None) != (build is None)
        self.stmt = stmt
        self._build = build
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            stmt = self._build(dialect.name) if self._build is not None else self.stmt
            assert stmt is not None
            found = self._by_dialect[dialect.name] = _Compiled(stmt, dialect)
        return found


_inserts: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_updates: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Prepared] = {}


def insert_of(table: sa.Table, keys: Iterable[str]) -> Prepared:
    """INSERT of exactly these columns (no Python-side defaults apply: give every column you mean)."""
    cols = tuple(keys)
    found = _inserts.get((table.name, cols))
    if found is None:
        found = _inserts[(table.name, cols)] = Prepared(table.insert().values({k: sa.bindparam(k) for k in cols}))
    return found


def insert_ignoring(table: sa.Table, keys: Iterable[str], conflict: tuple[str, ...]) -> Prepared:
    """INSERT of these columns that does nothing where a row with the same `conflict` columns exists (a unique
    key): `execute` returns 0 then. One statement where a look-up and an insert were two."""
    cols = tuple(keys)
    key = (f"{table.name} on conflict {','.join(conflict)}", cols)
    found = _inserts.get(key)
    if found is None:
        def build(dialect: str) -> sa.Executable:
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            return insert(table).values({k: sa.bindparam(k) for k in cols}) \
                .on_conflict_do_nothing(index_elements=[table.c[c] for c in conflict])

        found = _inserts[key] = Prepared(build=build)
    return found


def update_of(table: sa.Table, keys: Iterable[str], where: tuple[str, ...]) -> Prepared:
    """UPDATE of these columns WHERE each `where` column equals the parameter `w_<column>`."""
    cols = tuple(keys)
    found = _updates.get((table.name, cols, where))
    if found is None:
        stmt = table.update().where(*(table.c[w] == sa.bindparam("w_" + w) for w in where)) \
            .values({k: sa.bindparam(k) for k in cols})
        found = _updates[(table.name, cols, where)] = Prepared(stmt)
    return found


async def _driver(conn: AsyncConnection) -> tuple[Any, Dialect]:
    """The driver connection under `conn`, with the transaction SQLAlchemy began really open on it."""
    sync = conn.sync_connection
    assert sync is not None
    fairy = sync.connection
    dialect = sync.dialect
    if dialect.name == "postgresql" and sync.in_transaction():
        adapted = fairy.dbapi_connection
        # SQLAlchemy's asyncpg adapter opens its transaction lazily, at its own first statement. Outside
        # `Database.tx()` there is none: a read or a single write runs in autocommit, without BEGIN and COMMIT
        # round trips (under READ COMMITTED a transaction gives reads no common snapshot anyway).
        if adapted._transaction is None:  # type: ignore[union-attr]
            await adapted._start_transaction()  # type: ignore[union-attr]
    return fairy.driver_connection, dialect


def sqlite_cursor(driver: sqlite3.Connection) -> sqlite3.Cursor:
    # The base class's cursor(), not `sqlite3.Cursor(driver)`: only cursor() prunes the connection's list of
    # weak references to its cursors, which otherwise grows by one per statement. Not driver.cursor() either:
    # the in-loop driver's own cursors retry through SQLAlchemy's greenlet, which is not running here.
    return sqlite3.Connection.cursor(driver)


async def sqlite_call(c: _Compiled | None, call: Callable[[], Any]) -> Any:
    """Run a sqlite3 call in the loop's thread. Another process may hold SQLite's write lock: wait for it with
    an awaited sleep, never blocking the event loop (the connections' busy timeout is 0)."""
    waits = backoff()
    while True:
        try:
            return call()
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(c.sql if c else "", None, exc) from exc
        except sqlite3.OperationalError as exc:
            delay = next(waits, None) if busy(exc) else None
            if delay is None:
                raise
        await asyncio.sleep(delay)


async def _pg(c: _Compiled, call: Awaitable[Any]) -> Any:
    # Callers tell a lost race (a unique key) from other failures by SQLAlchemy's exception, as elsewhere.
    try:
        return await call
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(c.sql, None, exc) from exc


async def fetch_all(conn: AsyncConnection, stmt: Prepared, params: Row | None = None) -> list[Row]:
    driver, dialect = await _driver(conn)
    c = stmt.compiled(dialect)
    args = c.args(params or {})
    if dialect.name == "sqlite":
        rows = await sqlite_call(c, lambda: sqlite_cursor(driver).execute(c.sql, args).fetchall())
    else:
        rows = await _pg(c, driver.fetch(c.sql, *args))
    return [c.row(r) for r in rows]


async def fetch_one(conn: AsyncConnection, stmt: Prepared, params: Row | None = None) -> Row | None:
    rows = await fetch_all(conn, stmt, params)
    return rows[0] if rows else None


async def execute(conn: AsyncConnection, stmt: Prepared, params: Row | None = None) -> int:
    """Run an INSERT, UPDATE or DELETE; returns the number of rows it touched."""
    driver, dialect = await _driver(conn)
    c = stmt.compiled(dialect)
    args = c.args(params or {})
    if dialect.name == "sqlite":
        return int(await sqlite_call(c, lambda: sqlite_cursor(driver).execute(c.sql, args).rowcount))
    status: str = await _pg(c, driver.execute(c.sql, *args))
    return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


async def execute_many(conn: AsyncConnection, stmt: Prepared, rows: Sequence[Row]) -> None:
    if not rows:
        return
    driver, dialect = await _driver(conn)
    c = stmt.compiled(dialect)
    batch = [c.args(r) for r in rows]
    if dialect.name == "sqlite":
        await sqlite_call(c, lambda: sqlite_cursor(driver).executemany(c.sql, batch))
    else:
        await _pg(c, driver.executemany(c.sql, batch))


# Rows written at the end of the transaction, in one batch: outbox events, which nothing reads back before commit.
_DEFERRED = "gyeol_deferred"


def defer(conn: AsyncConnection, stmt: Prepared, row: Row) -> None:
    sync = conn.sync_connection
    assert sync is not None
    sync.info.setdefault(_DEFERRED, []).append((stmt, row))


async def flush(conn: AsyncConnection) -> None:
    """Write the deferred rows; `Database` calls it before every commit."""
    sync = conn.sync_connection
    pending = sync.info.pop(_DEFERRED, None) if sync is not None else None
    while pending:
        stmt = pending[0][0]
        batch = [row for s, row in pending if s is stmt]
        pending = [(s, row) for s, row in pending if s is not stmt]
        await execute_many(conn, stmt, batch)


def discard(conn: AsyncConnection) -> None:
    sync = conn.sync_connection
    if sync is not None and not sync.closed:
        sync.info.pop(_DEFERRED, None)
