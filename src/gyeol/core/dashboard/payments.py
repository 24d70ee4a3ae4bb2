"""The payments list: filters, keyset pages newest first, and the batches of a CSV export of the same list."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

import sqlalchemy as sa

from gyeol.core.clock import KST
from gyeol.core.context import Caller
from gyeol.core.payments.records import Channel, Payment
from gyeol.core.payments.repository import scoped
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import payments

PAGE = 50
EXPORT_BATCH = 500
STATUSES = ("created", "pending", "authorized", "succeeded", "captured", "failed", "canceled", "voided",
            "refunded")
METHODS = ("card", "bank", "virtual_account")
# The API a payment came through, as merchants name them: Gyeol's API is two, its merchant's own calls (native)
# and its users' (user, with a user id).
APIS: dict[str, sa.ColumnElement[bool]] = {
    "native": sa.and_(payments.c.channel == Channel.API.value, payments.c.user_id.is_(None)),
    "user": sa.and_(payments.c.channel == Channel.API.value, payments.c.user_id.is_not(None)),
    "kiosk": payments.c.channel == Channel.TOSS_PAYMENT.value,
    "shop": payments.c.channel == Channel.TOSS_CONFIRM.value,
    "shopping": payments.c.channel == Channel.SHOPPING.value,
}


def api_of(p: Payment) -> str:
    if p.channel == Channel.API.value:
        return "user" if p.user_id else "native"
    return {Channel.TOSS_PAYMENT.value: "kiosk", Channel.TOSS_CONFIRM.value: "shop"}.get(p.channel, p.channel)


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """Days are Korean calendar days, both ends included; amounts in minor units, both ends included."""

    day_from: date | None = None
    day_to: date | None = None
    status: str | None = None
    method: str | None = None
    api: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    search: str | None = None  # a payment id, orderId, paymentKey, payment number or customer id, whole


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), KST)


def conditions(caller: Caller, f: PaymentFilter) -> list[sa.ColumnElement[bool]]:
    conds = scoped(caller)
    if f.day_from is not None:
        conds.append(payments.c.created_at >= day_start(f.day_from))
    if f.day_to is not None:
        conds.append(payments.c.created_at < day_start(f.day_to + timedelta(days=1)))
    if f.status:
        conds.append(payments.c.status == f.status)
    if f.method:
        conds.append(payments.c.method_type == f.method)
    if f.api in APIS:
        conds.append(APIS[f.api])
    if f.amount_min is not None:
        conds.append(payments.c.amount >= f.amount_min)
    if f.amount_max is not None:
        conds.append(payments.c.amount <= f.amount_max)
    return conds


def searched(merchant_id: str, term: str) -> sa.Subquery:
    """The ids of the merchant's payments whose id, orderId, paymentKey, payment number or customer id is `term`:
    each looked up on its own index, then joined (one OR of the five would read every payment of the merchant)."""
    mine = payments.c.merchant_id == merchant_id
    return sa.union(
        sa.select(payments.c.id).where(payments.c.id == term),
        *(sa.select(payments.c.id).where(mine, column == term) for column in (
            payments.c.order_id, payments.c.payment_key, payments.c.payment_number, payments.c.customer_id)),
    ).subquery("searched")


class Keyed(Protocol):
    """A row of a list newest first: its creation time, then its id, order it."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


def cursor_of(row: Keyed) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode().rstrip("=")


def after_of(cursor: str | None) -> tuple[datetime, str] | None:
    """The last row of the page before; None for the first page or a cursor that is not one of ours."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, pid = text.partition("|")
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (when, pid) if when.tzinfo is not None and pid else None


class PaymentSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _query(self, caller: Caller, f: PaymentFilter, after: tuple[datetime, str] | None, limit: int) -> sa.Select:
        q = sa.select(payments).where(*conditions(caller, f))
        if f.search and f.search.strip():
            found = searched(caller.merchant_id, f.search.strip())
            q = q.select_from(found.join(payments, payments.c.id == found.c.id))
        if after is not None:
            q = q.where(sa.tuple_(payments.c.created_at, payments.c.id) < sa.tuple_(
                sa.literal(after[0], payments.c.created_at.type), sa.literal(after[1])))
        return q.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit)

    async def page(self, caller: Caller, f: PaymentFilter, cursor: str | None,
                   size: int = PAGE) -> tuple[list[Payment], str | None]:
        """A page newest first, and the cursor of the next one (None on the last page)."""
        async with self.db.read() as conn:
            rows = await sql.rows(conn, self._query(caller, f, after_of(cursor), size + 1))
        found = [Payment.from_row(r) for r in rows]
        return found[:size], (cursor_of(found[size - 1]) if len(found) > size else None)

    async def batches(self, caller: Caller, f: PaymentFilter) -> AsyncIterator[list[Payment]]:
        """Every payment of the filter, newest first, a batch at a time, each read on its own: an export of any
        size holds no connection or transaction between batches."""
        after: tuple[datetime, str] | None = None
        while True:
            async with self.db.read() as conn:
                rows = await sql.rows(conn, self._query(caller, f, after, EXPORT_BATCH))
            if not rows:
                return
            batch = [Payment.from_row(r) for r in rows]
            yield batch
            if len(batch) < EXPORT_BATCH:
                return
            after = (batch[-1].created_at, batch[-1].id)
