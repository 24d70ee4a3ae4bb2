"""Row-level helpers for the repositories: reads as dicts, and writes whose failures are named for what they mean
(a unique key taken, a conditional update that lost its race). A statement a repository runs again and again is
compiled once and run on the driver (`db.compiled`); any other goes through SQLAlchemy's `execute`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
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
_adds: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], int], sa.Insert] = {}
_together: dict[tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], int], ...], sa.Select] = {}


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


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows of the same columns to INSERT into `table`, in their order."""
    table: sa.Table
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Update:
    """UPDATE `values` WHERE each `where` column equals its value; `conflict()` is raised if no row matched."""
    table: sa.Table
    values: Row
    where: Row
    conflict: Error | None = None


@dataclass(frozen=True, slots=True)
class Add:
    """Rows of the same columns to INSERT into `table`; a row whose primary key is there already adds its `counters`
    to that row's instead (INSERT ... ON CONFLICT DO UPDATE). At most one row per key: a statement may not change a
    row twice."""
    table: sa.Table
    rows: list[Row]
    counters: tuple[str, ...]


Write = Insert | Update | Add


def _adding(dialect: str, w: Add, names: Callable[[str, int], str]) -> sa.Insert:
    """`w` as one INSERT ... ON CONFLICT DO UPDATE, its values bound to `names(column, row)`."""
    t, keys = w.table, tuple(w.rows[0])
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(t).values([{k: sa.bindparam(names(k, n), type_=t.c[k].type) for k in keys}
                             for n in range(len(w.rows))])
    return stmt.on_conflict_do_update(index_elements=list(t.primary_key.columns),
                                      set_={c: t.c[c] + stmt.excluded[c] for c in w.counters})


async def add(conn: Conn, w: Add) -> None:
    keys = tuple(w.rows[0])
    shape = (conn.dialect.name, w.table.name, keys, w.counters, len(w.rows))
    stmt = _adds.get(shape)
    if stmt is None:
        stmt = _adds[shape] = _adding(conn.dialect.name, w, lambda k, n: f"{k}_{n}")
    await write(conn, stmt, {f"{k}_{n}": row[k] for n, row in enumerate(w.rows) for k in keys})


async def write_all(conn: Conn, writes: Sequence[Write]) -> None:
    """The writes of one change, run, and failing, here: on PostgreSQL as one statement (each write a
    data-modifying CTE, so the change costs one round trip), on SQLite one after another, in their order (a
    statement costs no round trip there). Either way a unique key taken raises IntegrityError, and a conditional
    update that matched no row its `conflict()`."""
    if conn.dialect.name != "postgresql" or len(writes) == 1:
        for w in writes:
            if isinstance(w, Insert):
                await insert_many(conn, w.table, w.rows)
            elif isinstance(w, Add):
                await add(conn, w)
            else:
                await update(conn, w.table, w.values, conflict=w.conflict, **w.where)
        return
    params: Row = {}
    for i, w in enumerate(writes):
        if isinstance(w, Insert | Add):
            params.update({f"w{i}_{k}_{n}": v for n, row in enumerate(w.rows) for k, v in row.items()})
        else:
            params.update({f"w{i}_{k}": v for k, v in w.values.items()})
            params.update({f"w{i}_w_{k}": v for k, v in w.where.items()})
    counts = await one(conn, _statement(writes), params)
    assert counts is not None
    for i, w in enumerate(writes):
        if isinstance(w, Update) and w.conflict is not None and counts[f"n{i}"] != 1:
            raise w.conflict()


def _cte_name(i: int, column: str, row: int) -> str:
    return f"w{i}_{column}_{row}"


def _statement(writes: Sequence[Write]) -> sa.Select:
    """`writes` as one SELECT whose CTEs make them, returning the row count of each UPDATE; one per shape."""
    shape = tuple(
        ("i", w.table.name, tuple(w.rows[0]), (), len(w.rows)) if isinstance(w, Insert)
        else ("a", w.table.name, tuple(w.rows[0]), w.counters, len(w.rows)) if isinstance(w, Add)
        else ("u", w.table.name, tuple(w.values), tuple(w.where), 1) for w in writes)
    found = _together.get(shape)
    if found is not None:
        return found
    ctes, counts = [], []
    for i, w in enumerate(writes):
        t = w.table

        def bind(name: str, column: str, t: sa.Table = t) -> sa.BindParameter[Any]:
            return sa.bindparam(name, type_=t.c[column].type)

        if isinstance(w, Insert):
            keys = tuple(w.rows[0])
            ctes.append(t.insert().values(
                [{k: bind(f"w{i}_{k}_{n}", k) for k in keys} for n in range(len(w.rows))]).cte(f"w{i}"))
            continue
        if isinstance(w, Add):
            ctes.append(_adding("postgresql", w, partial(_cte_name, i)).cte(f"w{i}"))
            continue
        changed = t.update().values({k: bind(f"w{i}_{k}", k) for k in w.values}).where(
            *(t.c[k] == bind(f"w{i}_w_{k}", k) for k in w.where)).returning(*t.primary_key.columns).cte(f"w{i}")
        ctes.append(changed)
        counts.append(sa.select(sa.func.count()).select_from(changed).scalar_subquery().label(f"n{i}"))
    stmt = _together[shape] = sa.select(*counts).add_cte(*ctes) if counts else \
        sa.select(sa.literal_column("1").label("n")).add_cte(*ctes)
    return stmt
