"""Row-level helpers for the repositories: reads as dicts, and writes whose failures are named for what they mean
(a unique key taken, a conditional update that lost its race). A statement a repository runs again and again is
compiled once and run on the driver (`db.compiled`); any other goes through SQLAlchemy's `execute`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.base import Executable

from gyeol.db.compiled import once
from gyeol.db.engine import Conn

Row = dict[str, Any]
Error = Callable[[], Exception]
_inserts: dict[str, sa.Insert] = {}
_inserts_many: dict[tuple[str, tuple[str, ...], int], sa.Insert] = {}
_inserts_new: dict[tuple[str, str], sa.Insert] = {}
_updates: dict[tuple[str, tuple[str, ...]], sa.Update] = {}


async def rows(conn: Conn, stmt: Executable, params: Row | None = None) -> list[Row]:
    c = once(stmt, conn.dialect)
    if c is None:
        return [dict(r) for r in (await conn.execute(stmt, params)).mappings()]
    fetched, _ = await conn.run(c, params or {})
    return c.rows(fetched)


async def one(conn: Conn, stmt: Executable, params: Row | None = None) -> Row | None:
    found = await rows(conn, stmt, params)
    return found[0] if found else None


async def write(conn: Conn, stmt: Executable, params: Row, keys: tuple[str, ...] | None = None) -> int:
    """Run an INSERT, UPDATE or DELETE; the number of rows it touched. `keys`: the columns an INSERT's or
    UPDATE's values name, when they come from `params` rather than from the statement."""
    c = once(stmt, conn.dialect, keys)
    if c is None:
        return int((await conn.execute(stmt, params)).rowcount)
    _, count = await conn.run(c, params)
    return count


async def insert(conn: Conn, table: sa.Table, row: Row, *, taken: Error | None = None) -> None:
    """INSERT `row`; `taken()` is raised instead if it hits a unique key of `table` (the transaction is then
    to be rolled back, as after any failed statement)."""
    stmt = _inserts.get(table.name)
    if stmt is None:
        stmt = _inserts[table.name] = table.insert()
    try:
        await write(conn, stmt, row, tuple(row))
    except IntegrityError:
        if taken is None:
            raise
        raise taken() from None


async def insert_many(conn: Conn, table: sa.Table, rows: list[Row]) -> None:
    """INSERT rows of the same columns with one statement, in their order."""
    keys = tuple(rows[0])
    if len(rows) == 1:
        await insert(conn, table, rows[0])
        return
    stmt = _inserts_many.get((table.name, keys, len(rows)))
    if stmt is None:
        stmt = _inserts_many[(table.name, keys, len(rows))] = table.insert().values(
            [{k: sa.bindparam(f"{k}_{i}", type_=table.c[k].type) for k in keys} for i in range(len(rows))])
    await write(conn, stmt, {f"{k}_{i}": row[k] for i, row in enumerate(rows) for k in keys})


async def insert_new(conn: Conn, table: sa.Table, row: Row) -> bool:
    """INSERT `row` unless it would hit a unique key of `table` (INSERT ... ON CONFLICT DO NOTHING); whether it
    was inserted. Nothing fails, so the transaction goes on either way."""
    stmt = _inserts_new.get((conn.dialect.name, table.name))
    if stmt is None:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        # RETURNING, not the row count, which SQLAlchemy's psycopg adapter does not keep for an INSERT.
        stmt = _inserts_new[(conn.dialect.name, table.name)] = \
            insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    c = once(stmt, conn.dialect, tuple(row))
    if c is None:
        return (await conn.execute(stmt.values(row))).first() is not None
    fetched, _ = await conn.run(c, row)
    return bool(fetched)


async def update(conn: Conn, table: sa.Table, values: Row, *, conflict: Error | None = None, **where: Any) -> int:
    """UPDATE `values` WHERE each `where` column equals its value; `conflict()` is raised if no row matched (a
    conditional update that lost a race). Returns the number of rows it touched."""
    key = (table.name, tuple(where))
    stmt = _updates.get(key)
    if stmt is None:
        stmt = _updates[key] = table.update().where(*(table.c[c] == sa.bindparam("w_" + c) for c in where))
    touched = await write(conn, stmt, {**values, **{"w_" + c: v for c, v in where.items()}}, tuple(values))
    if touched != 1 and conflict is not None:
        raise conflict()
    return touched
