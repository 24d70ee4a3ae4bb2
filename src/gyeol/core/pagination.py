"""A page of records, newest or oldest first as the caller orders them; each face renders it its own way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from gyeol.db.engine import Conn

MAX_PAGE_SIZE = 100
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


async def paginate(conn: Conn, query: sa.Select[Any], order_by: Any, page: int, size: int,
                   make: Callable[[Mapping[str, Any]], T]) -> Page[T]:
    total = (await conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await conn.execute(query.order_by(order_by).limit(size).offset((page - 1) * size))).mappings().all()
    return Page([make(dict(r)) for r in rows], int(total), page, size)
