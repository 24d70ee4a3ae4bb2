"""Row-level helpers over SQLAlchemy Core for the repositories: reads as dicts, and writes whose failures are
named for what they mean (a unique key taken, a conditional update that lost its race)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.base import Executable

from gyeol.db.engine import Conn

Row = dict[str, Any]
Error = Callable[[], Exception]
_updates: dict[tuple[str, tuple[str, ...]], sa.Update] = {}


async def one(conn: Conn, stmt: Executable, params: Row | None = None) -> Row | None:
    found = (await conn.execute(stmt, params)).mappings().first()
    return dict(found) if found is not None else None


async def rows(conn: Conn, stmt: Executable, params: Row | None = None) -> list[Row]:
    return [dict(r) for r in (await conn.execute(stmt, params)).mappings()]


async def insert(conn: Conn, table: sa.Table, row: Row, *, taken: Error | None = None) -> None:
    """INSERT `row`; `taken()` is raised instead if it hits a unique key of `table` (the transaction is then
    to be rolled back, as after any failed statement)."""
    try:
        await conn.execute(table.insert(), row)
    except IntegrityError:
        if taken is None:
            raise
        raise taken() from None


async def insert_new(conn: Conn, table: sa.Table, row: Row) -> bool:
    """INSERT `row` unless it would hit a unique key of `table` (INSERT ... ON CONFLICT DO NOTHING); whether it
    was inserted. Nothing fails, so the transaction goes on either way."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return bool((await conn.execute(insert(table).values(row).on_conflict_do_nothing())).rowcount == 1)


async def update(conn: Conn, table: sa.Table, values: Row, *, conflict: Error | None = None, **where: Any) -> int:
    """UPDATE `values` WHERE each `where` column equals its value; `conflict()` is raised if no row matched (a
    conditional update that lost a race). Returns the number of rows it touched."""
    key = (table.name, tuple(where))
    stmt = _updates.get(key)
    if stmt is None:
        stmt = _updates[key] = table.update().where(*(table.c[c] == sa.bindparam("w_" + c) for c in where))
    touched = (await conn.execute(stmt, {**values, **{"w_" + c: v for c, v in where.items()}})).rowcount
    if touched != 1 and conflict is not None:
        raise conflict()
    return int(touched)
