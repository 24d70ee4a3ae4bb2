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
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_

from gyeol.db.sqlite_inloop import backoff, busy
from gyeol.db.types import UTCDateTime

Row = dict[str, Any]
Processor = Callable[[Any], Any]


class _Compiled:
    __slots__ = ("sql", "names", "defaults", "columns", "table", "appends", "_bind_at", "_result_at")

    def __init__(self, stmt: sa.Executable, dialect: Dialect) -> None:
        c = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        if "POSTCOMPILE" in c.string:
            raise ValueError("an expanding IN cannot be prepared; spell it as OR of equalities")
        self.sql: str = c.string
        table = getattr(stmt, "table", None)  # an INSERT's or UPDATE's
        self.table: str | None = table.name if table is not None else None
        # A plain INSERT: two of them into one table may share a statement (see `write`).
        self.appends = isinstance(stmt, sa.Insert) and "ON CONFLICT" not in self.sql
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
    """One statement; bind parameters are named with `sa.bindparam(name)` and given as a dict."""

    __slots__ = ("stmt", "_by_dialect")

    def __init__(self, stmt: sa.Executable) -> None:
        self.stmt = stmt
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _Compiled(self.stmt, dialect)
        return found


_inserts: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_updates: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Prepared] = {}


def insert_of(table: sa.Table, keys: Iterable[str]) -> Prepared:
    """INSERT of exactly these columns (no Python-side defaults apply: give every column you mean), returning
    nothing: not even a generated key, which SQLAlchemy would otherwise ask back, so that rows can be held and
    sent as one statement (`write`)."""
    cols = tuple(keys)
    found = _inserts.get((table.name, cols))
    if found is None:
        stmt = table.insert().values({k: sa.bindparam(k) for k in cols}).inline()
        found = _inserts[(table.name, cols)] = Prepared(stmt)
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


async def _driver(sync: Connection, *, begin: bool = True) -> tuple[Any, Dialect]:
    """The driver connection under `sync`, with the transaction SQLAlchemy began really open on it (`begin`)."""
    fairy = sync.connection
    dialect = sync.dialect
    if begin and dialect.name == "postgresql" and sync.in_transaction():
        adapted = fairy.dbapi_connection
        # SQLAlchemy's asyncpg adapter opens its transaction lazily, at its own first statement. Outside
        # `Database.tx()` there is none: a read or a single write runs in autocommit, without BEGIN and COMMIT
        # round trips (under READ COMMITTED a transaction gives reads no common snapshot anyway).
        if adapted._transaction is None:  # type: ignore[union-attr]
            await adapted._start_transaction()  # type: ignore[union-attr]
    return fairy.driver_connection, dialect


async def _ready(conn: AsyncConnection) -> tuple[Any, Dialect]:
    """The driver connection, for a statement that needs an answer now: the writes held before it go first."""
    sync = conn.sync_connection
    assert sync is not None
    if sync.info.get(_PENDING):
        await _send(sync)
    return await _driver(sync)


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
    driver, dialect = await _ready(conn)
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
    """Run an INSERT, UPDATE or DELETE now; returns the number of rows it touched. A write whose count nothing
    needs takes `write`."""
    sync = conn.sync_connection
    assert sync is not None
    c = stmt.compiled(sync.dialect)
    args = c.args(params or {})
    held = _leading(sync, c)
    if held is not None:
        driver, _ = await _driver(sync)
        shape, held_args = _statements(held)
        return _count(await _pg_held([*held, _Held(c, args, None, None)],
                                     driver.execute(_together(shape, c), *held_args, *args)))
    driver, dialect = await _ready(conn)
    if dialect.name == "sqlite":
        return int(await sqlite_call(c, lambda: sqlite_cursor(driver).execute(c.sql, args).rowcount))
    return _count(await _pg(c, driver.execute(c.sql, *args)))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


# --- writes held until an answer is needed -------------------------------------------------------------------
# Most of a transaction's writes are an INSERT or an UPDATE by key whose result nothing reads before COMMIT: the
# payment's moves, its attempt, the order, the outbox events, the idempotency key. On PostgreSQL each statement is
# a round trip (~90 µs of wall time and ~40 µs of CPU here, more than the statement), so they are held, and sent as
# data-modifying CTEs of the next statement that needs an answer when they can be (`execute`), else as one statement
# of their own just before it, or before COMMIT.
# A CTE does not see its siblings' changes (one snapshot for the statement), so a write to a table that already has
# a held write, other than two plain INSERTs, sends the held ones first, and a statement that needs an answer takes
# them along only if none touches its table. Foreign keys are checked at the end of the statement, so a payment and
# its attempt may share one. On SQLite, where a statement is a function call, nothing is held: a write runs at once,
# and fails as it would held.
_PENDING = "gyeol_pending_writes"
_MAX_ARGS = 32767  # PostgreSQL's protocol counts a statement's parameters in 16 bits
Error = Callable[[], Exception]


class _Held:
    __slots__ = ("c", "args", "conflict", "taken")

    def __init__(self, c: _Compiled, args: list[Any], conflict: Error | None, taken: Error | None) -> None:
        self.c, self.args, self.conflict, self.taken = c, args, conflict, taken


class _Pending(list[_Held]):
    """A transaction's held writes, and how many parameters they carry in all."""

    args = 0


async def write(conn: AsyncConnection, stmt: Prepared, params: Row, *, conflict: Error | None = None,
                taken: Error | None = None) -> None:
    """An INSERT, or an UPDATE, sent at the latest when the transaction commits, in `Database`; the transaction
    fails with `conflict()` if it touched no row (a conditional update that lost a race), with `taken()` if it hit
    a unique key of its table, and otherwise as the statement would have. Held, it fails from the call that sends
    it: a later statement of the transaction, or its commit."""
    sync = conn.sync_connection
    assert sync is not None
    c = stmt.compiled(sync.dialect)
    args = c.args(params)
    if sync.dialect.name == "sqlite":
        await _write_sqlite(sync.connection.driver_connection, c, args, conflict, taken)
        return
    pending: _Pending | None = sync.info.get(_PENDING)
    if pending is not None and (pending.args + len(args) > _MAX_ARGS
                                or any(h.c.table == c.table and not (h.c is c and c.appends) for h in pending)):
        await _send(sync)
        pending = None
    if pending is None:
        pending = sync.info[_PENDING] = _Pending()
    pending.append(_Held(c, args, conflict, taken))
    pending.args += len(args)


async def flush(conn: AsyncConnection) -> None:
    """Send the held writes; `Database` calls it before every commit on PostgreSQL. A transaction that sent
    nothing else is then that one statement, atomic by itself, without BEGIN and COMMIT round trips, unless a count
    is to be checked: a statement that already committed could no longer fail on it."""
    sync = conn.sync_connection
    pending: _Pending | None = sync.info.get(_PENDING) if sync is not None else None
    if sync is not None and pending:
        await _send(sync, alone=all(h.conflict is None for h in pending))


def flush_before_sqlalchemy(sync: Connection) -> None:
    """Before a statement of SQLAlchemy's own (`conn.execute`) in the same transaction: its `before_cursor_execute`
    hook, which runs inside SQLAlchemy's greenlet, where a coroutine can be awaited."""
    if sync.info.get(_PENDING):
        await_(_send(sync))


def discard(conn: AsyncConnection) -> None:
    sync = conn.sync_connection
    if sync is not None and not sync.closed:
        sync.info.pop(_PENDING, None)


def _leading(sync: Connection, c: _Compiled) -> list[_Held] | None:
    """The held writes, taken off, if they can go as CTEs of `c`: PostgreSQL, none with a count to check, none on
    `c`'s table."""
    pending: _Pending | None = sync.info.get(_PENDING)
    if not pending or sync.dialect.name != "postgresql" or pending.args + len(c.names) > _MAX_ARGS or \
            any(h.conflict is not None or h.c.table == c.table for h in pending):
        return None
    return sync.info.pop(_PENDING)  # type: ignore[no-any-return]


async def _send(sync: Connection, *, alone: bool = False) -> None:
    pending: list[_Held] = sync.info.pop(_PENDING)
    driver, _ = await _driver(sync, begin=not alone)
    if len(pending) == 1:
        h = pending[0]
        touched = _count(await _pg_held(pending, driver.execute(h.c.sql, *h.args)))
        if touched != 1 and h.conflict is not None:
            raise h.conflict()
        return
    shape, args = _statements(pending)
    counts = await _pg_held(pending, driver.fetchrow(_together(shape, None), *args))
    checked = [h.conflict for h in pending if h.conflict is not None]
    for touched, conflict in zip(counts or (), checked, strict=False):
        if touched != 1:
            raise conflict()


async def _pg_held(pending: list[_Held], call: Awaitable[Any]) -> Any:
    try:
        return await _pg(pending[0].c, call)
    except IntegrityError as exc:
        table = getattr(exc.orig, "table_name", None)
        for h in pending:
            if h.taken is not None and h.c.table == table:
                raise h.taken() from None
        raise


async def _write_sqlite(driver: Any, c: _Compiled, args: list[Any], conflict: Error | None,
                        taken: Error | None) -> None:
    try:
        touched = await sqlite_call(c, lambda: sqlite_cursor(driver).execute(c.sql, args).rowcount)
    except IntegrityError:
        if taken is None:
            raise
        raise taken() from None
    if touched != 1 and conflict is not None:
        raise conflict()


_PLACEHOLDER = re.compile(r"\$(\d+)")
Shape = tuple[tuple[_Compiled, int, bool], ...]  # per statement: what, how many rows, whether its count is checked
_together_sql: dict[tuple[Shape, _Compiled | None], str] = {}


def _statements(held: list[_Held]) -> tuple[Shape, list[Any]]:
    """The held writes as statements and their arguments: the rows of one plain INSERT as one multi-row INSERT,
    in the order they were written. Sibling CTEs run in no set order, so only thus does a sequence (the outbox's
    `seq`) number rows as they were written. Checked writes (UPDATEs) keep their order among themselves."""
    rows_of: dict[_Compiled, list[_Held]] = {}
    statements: list[list[_Held]] = []
    for h in held:
        if h.c.appends and h.conflict is None:
            rows = rows_of.get(h.c)
            if rows is not None:
                rows.append(h)
                continue
            rows_of[h.c] = rows = [h]
            statements.append(rows)
        else:
            statements.append([h])
    shape = tuple((rows[0].c, len(rows), rows[0].conflict is not None) for rows in statements)
    return shape, [a for rows in statements for h in rows for a in h.args]


def _together(shape: Shape, main: _Compiled | None) -> str:
    """The held writes as CTEs, `WITH w0 AS (<write>), w1 AS (<write> RETURNING 1) ...`, of `main`, or of
    `SELECT (SELECT count(*) FROM w1) ...`, the counts of the rows each checked write touched. Placeholders are
    renumbered in sequence, the held writes' first."""
    sql = _together_sql.get((shape, main))
    if sql is None:
        parts, counts, offset = [], [], 0
        for i, (c, rows, check) in enumerate(shape):
            if rows == 1:
                body = _shifted(c.sql, offset)
            else:
                head, _, values = c.sql.partition(" VALUES ")
                assert values.startswith("(") and values.endswith(")"), c.sql  # one tuple, no RETURNING
                body = f"{head} VALUES " + ", ".join(_shifted(values, offset + k * len(c.names)) for k in range(rows))
            parts.append(f"w{i} AS ({body}{' RETURNING 1' if check else ''})")
            if check:
                counts.append(f"(SELECT count(*) FROM w{i})")
            offset += len(c.names) * rows
        tail = _shifted(main.sql, offset) if main is not None else f"SELECT {', '.join(counts) or '1'}"
        sql = f"WITH {', '.join(parts)} {tail}"
        if sum(rows for _, rows, _ in shape) <= 64:  # the usual shapes are few; a bulk insert's not kept
            if len(_together_sql) > 1000:
                _together_sql.clear()
            _together_sql[(shape, main)] = sql
    return sql


def _shifted(sql: str, offset: int) -> str:
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql) if offset else sql
