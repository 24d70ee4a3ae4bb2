from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Money = sa.BigInteger


def created_at() -> sa.Column[object]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


def updated_at() -> sa.Column[object]:
    return sa.Column("updated_at", UTCDateTime(), nullable=False)


def partial_index(table: sa.Table, name: str, *columns: str, unique: bool = False, present: str | None = None) -> None:
    """An index of the rows where `present` (by default the last column) is not NULL, on SQLite and PostgreSQL.
    A query that compares that column to a value uses it: both planners know `column = value` excludes NULL."""
    where = table.c[present or columns[-1]].isnot(None)
    sa.Index(name, *(table.c[c] for c in columns), unique=unique, sqlite_where=where, postgresql_where=where)
