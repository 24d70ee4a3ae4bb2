"""SQL for settlements. `source_id` is unique: a source booked twice fails its transaction with AlreadyBooked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.pagination import Page, paginate
from gyeol.core.records import row_of
from gyeol.core.settlements.records import Settlement
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import settlements

BY_ID = sa.select(settlements).where(settlements.c.id == sa.bindparam("id"))
APPROVAL = sa.select(settlements).where(settlements.c.payment_id == sa.bindparam("payment_id"),
                                        settlements.c.kind == "payment")
OLDEST_FIRST = settlements.c.created_at.asc()


class AlreadyBooked(Exception):
    """A settlement for this source exists: a second booking, which the source's status move should have
    refused."""


def _settlement(row: dict[str, Any] | None) -> Settlement | None:
    return None if row is None else Settlement(**row)


async def insert(conn: Conn, s: Settlement) -> None:
    await sql.insert(conn, settlements, row_of(s), taken=AlreadyBooked)


def inserting(s: Settlement) -> sql.Insert:
    """`insert` as a write to make with others (`sql.write_all`): a source booked twice fails it with
    IntegrityError."""
    return sql.Insert(settlements, [row_of(s)])


async def get(conn: Conn, settlement_id: str) -> Settlement | None:
    return _settlement(await sql.one(conn, BY_ID, {"id": settlement_id}))


async def approval(conn: Conn, payment_id: str) -> Settlement | None:
    """The settlement of a payment's approval, if it has one."""
    return _settlement(await sql.one(conn, APPROVAL, {"payment_id": payment_id}))


def _matching(caller: Caller, start: date | None, end: date | None, status: str | None) -> sa.Select[Any]:
    q = sa.select(settlements).where(settlements.c.merchant_id == caller.merchant_id,
                                     settlements.c.livemode == caller.livemode)
    if start:
        q = q.where(settlements.c.payout_date >= start)
    if end:
        q = q.where(settlements.c.payout_date <= end)
    if status:
        q = q.where(settlements.c.status == status)
    return q


async def list_page(conn: Conn, caller: Caller, page: int, size: int, *, start: date | None,
                    end: date | None, status: str | None) -> Page[Settlement]:
    """The caller's settlements (its merchant's, in its mode) paid out between `start` and `end` (each optional),
    oldest first."""
    return await paginate(conn, _matching(caller, start, end, status), OLDEST_FIRST, page, size,
                          Settlement.from_row)


async def all_matching(conn: Conn, caller: Caller, *, start: date | None, end: date | None,
                       status: str | None) -> list[Settlement]:
    """What `list_page` pages through, all at once."""
    return [Settlement(**r) for r in await sql.rows(conn, _matching(caller, start, end, status)
                                                     .order_by(OLDEST_FIRST))]


async def pay_out_due(conn: Conn, today: date, now: datetime) -> int:
    """Mark paid every scheduled settlement whose payout day is `today` or before; how many."""
    res = await conn.execute(settlements.update().where(settlements.c.status == "scheduled",
                                                        settlements.c.payout_date <= today)
                             .values(status="paid", paid_at=now))
    return int(res.rowcount or 0)
