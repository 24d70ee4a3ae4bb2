"""Statements the repositories run again and again, compiled once per dialect and run on the driver's own
connection, inside the transaction that `Database` opened, through public APIs only: `compile()`, the compiled
statement's `string`, `positiontup` and `binds`, and each type's `bind_processor` and `result_processor` for the
dialect, which are SQLAlchemy's own conversions. SQLAlchemy's `execute` spends several times a statement's own
cost in Python on every call (cache key, execution context, result wrapping); these statements are fixed, so that
work is done once. A statement runs, and fails, where it is awaited, as through `execute`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Row = dict[str, Any]
Processor = Callable[[Any], Any]


class Compiled:
    __slots__ = ("sql", "names", "binds", "defaults", "columns", "results")

    def __init__(self, stmt: sa.Executable, dialect: Dialect, keys: tuple[str, ...] | None) -> None:
        c = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)  # type: ignore[attr-defined]
        self.sql: str = c.string
        # Positional drivers (sqlite3) take the values in this order; named ones (psycopg) take the dict.
        self.names: tuple[str, ...] | None = tuple(c.positiontup) if c.positiontup else None
        binds = [(name, bp.type.dialect_impl(dialect).bind_processor(dialect)) for name, bp in c.binds.items()]
        self.binds: tuple[tuple[str, Processor], ...] = tuple((n, p) for n, p in binds if p is not None)
        # Constants written into the statement (`status == "unknown"`) are bind parameters with a value.
        self.defaults: Row = {name: bp.effective_value for name, bp in c.binds.items() if not bp.required}
        # A SELECT's columns, or what an INSERT, UPDATE or DELETE returns.
        columns = list(stmt.selected_columns if isinstance(stmt, sa.Select) else stmt.exported_columns)  # type: ignore[attr-defined]
        self.columns: tuple[str, ...] = tuple(str(col.key) for col in columns)
        results = [(str(col.key), col.type.dialect_impl(dialect).result_processor(dialect, None)) for col in columns]
        self.results: tuple[tuple[str, Processor], ...] = tuple((k, p) for k, p in results if p is not None)

    def args(self, params: Row) -> Row | list[Any]:
        values = {**self.defaults, **params} if self.defaults else dict(params)
        for name, process in self.binds:
            value = values.get(name)
            if value is not None:
                values[name] = process(value)
        return [values[n] for n in self.names] if self.names is not None else values

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[Row]:
        out = []
        for values in fetched:
            row = dict(zip(self.columns, values, strict=True))
            for key, process in self.results:
                if row[key] is not None:
                    row[key] = process(row[key])
            out.append(row)
        return out

    @property
    def fixed(self) -> bool:
        """Whether the SQL is the same for any values: not so for an expanding IN."""
        return "POSTCOMPILE" not in self.sql


_by_statement: weakref.WeakKeyDictionary[sa.Executable, dict[tuple[str, tuple[str, ...] | None], Compiled]] = \
    weakref.WeakKeyDictionary()
_seen: weakref.WeakSet[sa.Executable] = weakref.WeakSet()


def once(stmt: sa.Executable, dialect: Dialect, keys: tuple[str, ...] | None = None) -> Compiled | None:
    """The statement compiled for the dialect, from the second time it is run: a statement built for one call
    is left to SQLAlchemy's own cache, and one that cannot be compiled once is too. None: run it through
    `execute`."""
    by_dialect = _by_statement.get(stmt)
    if by_dialect is None:
        if stmt not in _seen:
            _seen.add(stmt)
            return None
        by_dialect = _by_statement[stmt] = {}
    found = by_dialect.get((dialect.name, keys))
    if found is None:
        found = by_dialect[(dialect.name, keys)] = Compiled(stmt, dialect, keys)
    return found if found.fixed else None
