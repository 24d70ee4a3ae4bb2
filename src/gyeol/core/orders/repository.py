"""SQL for orders. Lock before a money decision: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.core.states import ORDER
from gyeol.db import prepared
from gyeol.db.prepared import Prepared
from gyeol.models import orders

Row = dict[str, Any]


_BY_ORDER_ID = sa.select(orders).where(orders.c.merchant_id == sa.bindparam("merchant_id"),
                                       orders.c.order_id == sa.bindparam("order_id"))
_BY_PK = sa.select(orders).where(orders.c.id == sa.bindparam("id"))
GET, GET_LOCKED = Prepared(_BY_ORDER_ID), Prepared(_BY_ORDER_ID.with_for_update())
BY_PK, BY_PK_LOCKED = Prepared(_BY_PK), Prepared(_BY_PK.with_for_update())


async def get(conn: AsyncConnection, merchant_id: str, order_id: str, *, lock: bool = False) -> Row | None:
    return await prepared.fetch_one(conn, GET_LOCKED if lock else GET, {"merchant_id": merchant_id,
                                                                        "order_id": order_id})


async def get_by_pk(conn: AsyncConnection, pk: str, *, lock: bool = False) -> Row:
    row = await prepared.fetch_one(conn, BY_PK_LOCKED if lock else BY_PK, {"id": pk})
    if row is None:
        raise LookupError(f"order {pk} is gone")  # payments reference orders: never happens
    return row


async def insert(conn: AsyncConnection, row: Row) -> Row:
    await prepared.execute(conn, prepared.insert_of(orders, row), row)
    return row


class OrderExists(Exception):
    """The merchant has an order with this order_id already."""


async def insert_new(conn: AsyncConnection, row: Row) -> None:
    """Insert the order with the transaction's other writes, in the same statement where they can be; the
    transaction fails with OrderExists if the merchant has one with its order_id."""
    await prepared.write(conn, prepared.insert_of(orders, row), row, taken=OrderExists)


async def mark_paid(conn: AsyncConnection, order: Row, *, amount: int, payment_id: str,
                    payment_key: str | None, now: datetime) -> Row:
    new_status = ORDER.next(order["status"], "pay")
    values = {"status": new_status, "paid_amount": amount, "payment_id": payment_id, "paid_at": now,
              "updated_at": now}
    if payment_key:
        values["payment_key"] = payment_key
    await prepared.write(conn, prepared.update_of(orders, values, ("id", "status")),
                         {**values, "w_id": order["id"], "w_status": order["status"]})
    return {**order, **values}


async def add_refund(conn: AsyncConnection, order: Row, amount: int, now: datetime) -> Row:
    refunded = order["refunded_amount"] + amount
    values: Row = {"refunded_amount": refunded, "updated_at": now}
    if refunded == order["paid_amount"]:
        values["status"] = ORDER.next(order["status"], "refund_full")
    await prepared.write(conn, prepared.update_of(orders, values, ("id",)), {**values, "w_id": order["id"]})
    return {**order, **values}
