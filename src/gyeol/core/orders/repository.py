"""SQL for orders. Lock before a money decision: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.core.states import ORDER
from gyeol.models import orders

Row = dict[str, Any]


async def get(conn: AsyncConnection, merchant_id: str, order_id: str, *, lock: bool = False) -> Row | None:
    q = sa.select(orders).where(orders.c.merchant_id == merchant_id, orders.c.order_id == order_id)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def get_by_pk(conn: AsyncConnection, pk: str, *, lock: bool = False) -> Row:
    q = sa.select(orders).where(orders.c.id == pk)
    if lock:
        q = q.with_for_update()
    return dict((await conn.execute(q)).mappings().one())


async def insert(conn: AsyncConnection, row: Row) -> Row:
    await conn.execute(orders.insert().values(**row))
    return row


async def mark_paid(conn: AsyncConnection, order: Row, *, amount: int, payment_id: str,
                    payment_key: str | None, now: datetime) -> Row:
    new_status = ORDER.next(order["status"], "pay")
    values = {"status": new_status, "paid_amount": amount, "payment_id": payment_id, "paid_at": now,
              "updated_at": now}
    if payment_key:
        values["payment_key"] = payment_key
    await conn.execute(
        orders.update().where(orders.c.id == order["id"], orders.c.status == order["status"]).values(**values)
    )
    return {**order, **values}


async def add_refund(conn: AsyncConnection, order: Row, amount: int, now: datetime) -> Row:
    refunded = order["refunded_amount"] + amount
    values: Row = {"refunded_amount": refunded, "updated_at": now}
    if refunded == order["paid_amount"]:
        values["status"] = ORDER.next(order["status"], "refund_full")
    await conn.execute(orders.update().where(orders.c.id == order["id"]).values(**values))
    return {**order, **values}
