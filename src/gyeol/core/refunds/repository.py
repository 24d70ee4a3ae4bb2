"""SQL for refunds, and for the amount a refund reserves on its payment.

`transition` is the only code that changes a refund's status: the transition table names the next one, and the
write is conditional on the current one, so a lost race changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.pagination import Page, paginate
from gyeol.core.records import row_of
from gyeol.core.refunds.records import Refund
from gyeol.core.states import REFUND
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import payments, refunds

# Conditional, so that even without a row lock two refunds cannot both reserve the rest.
RESERVE = (
    payments.update()
    .where(payments.c.id == sa.bindparam("w_id"),
           payments.c.refunded_amount + payments.c.refunding_amount + sa.bindparam("reserve")
           <= payments.c.captured_amount)
    .values(refunding_amount=payments.c.refunding_amount + sa.bindparam("reserve"),
            updated_at=sa.bindparam("updated_at")))
BY_ID = sa.select(refunds).where(refunds.c.id == sa.bindparam("id"))
A_CANCEL = (sa.select(refunds.c.id).where(refunds.c.payment_id == sa.bindparam("payment_id"),
                                          refunds.c.is_cancel.is_(True)).limit(1))


async def reserve(conn: Conn, payment_id: str, amount: int, now: datetime) -> bool:
    """Add `amount` to the payment's `refunding_amount` if its captured amount still covers it; whether it did."""
    reserved = await conn.execute(RESERVE, {"w_id": payment_id, "reserve": amount, "updated_at": now})
    return reserved.rowcount == 1


def _refund(row: dict[str, Any] | None) -> Refund | None:
    return None if row is None else Refund(**row)


def inserting(r: Refund) -> sql.Insert:
    """A new refund, as a write to make with others (`sql.write_all`)."""
    return sql.Insert(refunds, [row_of(r)])


async def get(conn: Conn, refund_id: str) -> Refund | None:
    return _refund(await sql.one(conn, BY_ID, {"id": refund_id}))


async def get_callers(conn: Conn, caller: Caller, refund_id: str) -> Refund | None:
    """The refund, if it is the caller's merchant's in the caller's mode (read by its id alone: `Caller.owns`)."""
    r = await get(conn, refund_id)
    return r if r is not None and caller.owns(r.merchant_id, r.livemode) else None


async def any_cancel(conn: Conn, payment_id: str) -> bool:
    """Whether a refund of the payment was asked for as a cancel."""
    return await sql.one(conn, A_CANCEL, {"payment_id": payment_id}) is not None


async def transition(conn: Conn, r: Refund, event: str, now: datetime, **values: Any) -> Refund:
    values = {**values, "status": REFUND.next(r.status, event), "updated_at": now}
    await sql.update(conn, refunds, values, id=r.id, status=r.status)
    return replace(r, **values)


async def list_page(conn: Conn, caller: Caller, page: int, size: int, *,
                    payment_id: str | None = None) -> Page[Refund]:
    """The caller's refunds (its merchant's, in its mode; of one payment, when given), newest first."""
    q = sa.select(refunds).where(refunds.c.merchant_id == caller.merchant_id, refunds.c.livemode == caller.livemode)
    if payment_id:
        q = q.where(refunds.c.payment_id == payment_id)
    return await paginate(conn, q, refunds.c.created_at.desc(), page, size, Refund.from_row)


async def pending(conn: Conn, older_than: datetime, limit: int) -> list[Refund]:
    """Pending refunds created at `older_than` or before, oldest first."""
    q = sa.select(refunds).where(refunds.c.status == "pending", refunds.c.created_at <= older_than)
    return [Refund(**r) for r in await sql.rows(conn, q.order_by(refunds.c.created_at).limit(limit))]


async def succeeded(conn: Conn, payment_id: str) -> list[Refund]:
    """A payment's refunds that went through, oldest first (Toss's `cancels`)."""
    q = (sa.select(refunds).where(refunds.c.payment_id == payment_id, refunds.c.status == "succeeded")
         .order_by(refunds.c.created_at))
    return [Refund(**r) for r in await sql.rows(conn, q)]
