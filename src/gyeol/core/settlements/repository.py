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


async def due_groups(conn: Conn, today: date) -> list[tuple[str, bool, str]]:
    """The (merchant, mode, currency) of the scheduled settlements whose payout day is `today` or before."""
    q = (sa.select(settlements.c.merchant_id, settlements.c.livemode, settlements.c.currency).distinct()
         .where(settlements.c.status == "scheduled", settlements.c.payout_date <= today))
    return [(r[0], bool(r[1]), r[2]) for r in (await conn.execute(q)).all()]


async def pay_out_due(conn: Conn, merchant_id: str, livemode: bool, currency: str, today: date, now: datetime,
                      payout_id: str) -> list[int]:
    """Mark paid, by payout `payout_id`, the merchant's scheduled settlements in `currency` and `livemode` whose
    payout day is `today` or before; the net amount of each row it marked."""
    res = await conn.execute(
        settlements.update()
        .where(settlements.c.status == "scheduled", settlements.c.payout_date <= today,
               settlements.c.merchant_id == merchant_id, settlements.c.livemode == livemode,
               settlements.c.currency == currency)
        .values(status="paid", paid_at=now, payout_id=payout_id).returning(settlements.c.net_amount))
    return [int(r[0]) for r in res.all()]
