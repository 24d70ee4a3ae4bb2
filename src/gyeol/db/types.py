"""Column types shared by every table."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases; SQLite would otherwise return naive values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # SQLite stores these as text in SQLAlchemy's format ("2026-12-03 13:35:56.105341"). The chain above (this
    # decorator, then SQLAlchemy's DATETIME formatting by a %-template, or its regex on the way back) costs ~5 µs
    # a value; a payment binds ~40. db.prepared uses these two instead: the same text, through C.
    @staticmethod
    @functools.lru_cache(maxsize=256)  # a transaction binds its one `now` a dozen times
    def sqlite_bind(value: datetime) -> str:
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    @staticmethod
    def sqlite_result(value: str) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
