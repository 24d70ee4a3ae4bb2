"""SQL for customers and their saved payment methods. A detached method keeps its row, marked `deleted_at`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.customers.records import Customer, PaymentMethod
from gyeol.core.records import row_of
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import customers, payment_methods

pm = payment_methods.c

CUSTOMER = sa.select(customers).where(customers.c.merchant_id == sa.bindparam("merchant_id"),
                                      customers.c.customer_id == sa.bindparam("customer_id"))
_METHOD = sa.select(payment_methods).where(pm.id == sa.bindparam("id"), pm.merchant_id == sa.bindparam("merchant_id"),
                                           pm.livemode == sa.bindparam("livemode"), pm.deleted_at.is_(None))
METHOD, METHOD_LOCKED = _METHOD, _METHOD.with_for_update()
LIVE_METHODS = sa.select(payment_methods).where(pm.customer_pk == sa.bindparam("customer_pk"), pm.deleted_at.is_(None)
                                                ).order_by(pm.created_at, pm.id)
OLDEST_LIVE = sa.select(pm.id).where(pm.customer_pk == sa.bindparam("customer_pk"), pm.deleted_at.is_(None)
                                     ).order_by(pm.created_at, pm.id).limit(1)
A_DEFAULT = sa.select(pm.id).where(pm.customer_pk == sa.bindparam("customer_pk"), pm.deleted_at.is_(None),
                                   pm.is_default.is_(True)).limit(1)


async def get_customer(conn: Conn, merchant_id: str, customer_id: str) -> Customer | None:
    """The merchant's customer by its customerId, which is one customer's whatever its mode: the caller's mode is
    checked on it."""
    row = await sql.one(conn, CUSTOMER, {"merchant_id": merchant_id, "customer_id": customer_id})
    return None if row is None else Customer(**row)


async def insert_customer(conn: Conn, c: Customer) -> None:
    await sql.insert(conn, customers, row_of(c))


async def get_method(conn: Conn, caller: Caller, method_id: str, *, lock: bool = False) -> PaymentMethod | None:
    """A method of the caller's (its merchant's, in its mode) that is not detached."""
    row = await sql.one(conn, METHOD_LOCKED if lock else METHOD, {"id": method_id, "merchant_id": caller.merchant_id,
                                                                  "livemode": caller.livemode})
    return None if row is None else PaymentMethod(**row)


async def methods(conn: Conn, customer_pk: str) -> list[PaymentMethod]:
    """The customer's methods that are not detached, oldest first."""
    return [PaymentMethod(**r) for r in await sql.rows(conn, LIVE_METHODS, {"customer_pk": customer_pk})]


async def has_default(conn: Conn, customer_pk: str) -> bool:
    return await sql.one(conn, A_DEFAULT, {"customer_pk": customer_pk}) is not None


async def oldest_method_id(conn: Conn, customer_pk: str) -> str | None:
    found = await sql.one(conn, OLDEST_LIVE, {"customer_pk": customer_pk})
    return found["id"] if found else None


async def insert_method(conn: Conn, m: PaymentMethod) -> None:
    await sql.insert(conn, payment_methods, row_of(m))


async def make_default(conn: Conn, customer_pk: str, method_id: str) -> None:
    await sql.update(conn, payment_methods, {"is_default": False}, customer_pk=customer_pk)
    await set_default(conn, method_id)


async def set_default(conn: Conn, method_id: str) -> None:
    await sql.update(conn, payment_methods, {"is_default": True}, id=method_id)


async def detach(conn: Conn, method_id: str, now: datetime) -> None:
    await sql.update(conn, payment_methods, {"deleted_at": now, "is_default": False}, id=method_id)
