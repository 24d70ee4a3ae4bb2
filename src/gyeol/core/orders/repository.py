"""SQL for orders. Lock before a money decision: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.orders.records import Order
from gyeol.core.records import row_of
from gyeol.core.states import ORDER
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import orders

Row = dict[str, Any]


_BY_ORDER_ID = sa.select(orders).where(orders.c.merchant_id == sa.bindparam("merchant_id"),
                                       orders.c.order_id == sa.bindparam("order_id"))
_BY_PK = sa.select(orders).where(orders.c.id == sa.bindparam("id"))
GET, GET_LOCKED = (_BY_ORDER_ID), (_BY_ORDER_ID.with_for_update())
BY_PK, BY_PK_LOCKED = (_BY_PK), (_BY_PK.with_for_update())


async def get(conn: Conn, caller: Caller, order_id: str, *, lock: bool = False) -> Order | None:
    """The caller's order: its merchant's, in its mode."""
    order = await get_any(conn, caller.merchant_id, order_id, lock=lock)
    return order if order is not None and caller.owns(order.merchant_id, order.livemode) else None


async def get_any(conn: Conn, merchant_id: str, order_id: str, *, lock: bool = False) -> Order | None:
    """The merchant's order with this orderId, in either mode: for what a PG tells of it (an orderId is one order's
    per merchant, whatever its mode)."""
    row = await sql.one(conn, GET_LOCKED if lock else GET, {"merchant_id": merchant_id, "order_id": order_id})
    return None if row is None else Order(**row)


async def get_by_pk(conn: Conn, pk: str, *, lock: bool = False) -> Order:
    row = await sql.one(conn, BY_PK_LOCKED if lock else BY_PK, {"id": pk})
    if row is None:
        raise LookupError(f"order {pk} is gone")  # payments reference orders: never happens
    return Order(**row)


async def insert(conn: Conn, order: Order) -> None:
    await sql.insert(conn, orders, row_of(order))


class OrderExists(Exception):
    """The merchant has an order with this order_id already."""


async def insert_new(conn: Conn, order: Order) -> None:
    """Insert the order with the transaction's other writes, in the same statement where they can be; the
    transaction fails with OrderExists if the merchant has one with its order_id."""
    await sql.insert(conn, orders, row_of(order), taken=OrderExists)


def paying(order: Order, *, amount: int, payment_id: str, payment_key: str | None,
           now: datetime) -> tuple[Order, sql.Update]:
    """The order paid by a payment, and the write that records it (`sql.write_all`)."""
    values: Row = {"status": ORDER.next(order.status, "pay"), "paid_amount": amount, "payment_id": payment_id,
                   "paid_at": now, "updated_at": now}
    if payment_key:
        values["payment_key"] = payment_key
    return replace(order, **values), sql.Update(orders, values, {"id": order.id, "status": order.status})


async def add_refund(conn: Conn, order: Order, amount: int, now: datetime) -> Order:
    refunded = order.refunded_amount + amount
    values: Row = {"refunded_amount": refunded, "updated_at": now}
    if refunded == order.paid_amount:
        values["status"] = ORDER.next(order.status, "refund_full")
    await sql.update(conn, orders, values, id=order.id)
    return replace(order, **values)
