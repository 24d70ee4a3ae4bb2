"""The native list shape: {items, total, page, size}."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import sqlalchemy as sa

from gyeol.db.engine import Conn

MAX_PAGE_SIZE = 100


class Page(TypedDict):
    items: list[dict[str, Any]]
    total: int
    page: int
    size: int


async def paginate(
    conn: Conn,
    query: sa.Select[Any],
    order_by: Any,
    page: int,
    size: int,
    view: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Page:
    total = (await conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await conn.execute(query.order_by(order_by).limit(size).offset((page - 1) * size))).mappings().all()
    return {"items": [view(dict(r)) for r in rows], "total": int(total), "page": page, "size": size}
