"""The sandbox PG's books (`models/sandbox.py`): the SQL of its tokens and charges, rows in and rows out.

Each write is a transaction by itself, as at a PG that answers a request at a time; the unique reference of a
charge is its idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import sandbox_charges as ch
from gyeol.models import sandbox_tokens as tk

Row = dict[str, Any]

BY_REFERENCE = sa.select(ch).where(ch.c.reference == sa.bindparam("reference"))
BY_ID = sa.select(ch).where(ch.c.id == sa.bindparam("id"))
APPROVED_KEY = (
    sa.select(ch).where(ch.c.merchant_id == sa.bindparam("merchant_id"), ch.c.payment_key == sa.bindparam("key"),
                        sa.or_(ch.c.kind == "charge", ch.c.kind == "authorization"), ch.c.status == "succeeded")
    .order_by(ch.c.created_at).limit(1))
_PARENT = ch.alias("parent")
# What the sandbox settles: each charge taken, capture and refund that went through, with what its parent says.
SETTLED = (
    sa.select(ch.c.id, ch.c.kind, ch.c.amount, ch.c.currency, ch.c.order_id, ch.c.method, ch.c.parent_id,
              ch.c.updated_at, _PARENT.c.method.label("parent_method"), _PARENT.c.order_id.label("parent_order_id"))
    .select_from(ch.outerjoin(_PARENT, _PARENT.c.id == ch.c.parent_id))
    .where(ch.c.merchant_id == sa.bindparam("merchant_id"), ch.c.status == "succeeded",
           sa.or_(ch.c.kind == "charge", ch.c.kind == "capture", ch.c.kind == "refund"),  # one SQL for any call
           ch.c.updated_at >= sa.bindparam("since"),
           ch.c.updated_at < sa.bindparam("until"))
    .order_by(ch.c.updated_at, ch.c.id))
TOKEN = sa.select(tk).where(tk.c.id == sa.bindparam("id"), tk.c.merchant_id == sa.bindparam("merchant_id"))


class TakenReference(Exception):
    """A charge with this reference is in the books already."""


class Books:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_token(self, row: Row) -> None:
        async with self.db.tx() as conn:
            await conn.execute(tk.insert().values(**row))

    async def token(self, merchant_id: str, token: str) -> Row | None:
        async with self.db.read() as conn:
            return await sql.one(conn, TOKEN, {"id": token, "merchant_id": merchant_id})

    async def add_charge(self, row: Row) -> None:
        """Record a charge; raises TakenReference when its reference is recorded already."""
        async with self.db.autocommit() as conn:
            await sql.insert(conn, ch, row, taken=lambda: TakenReference(row["reference"]))

    async def by_reference(self, reference: str) -> Row | None:
        async with self.db.read() as conn:
            return await sql.one(conn, BY_REFERENCE, {"reference": reference})

    async def by_id(self, charge_id: str) -> Row | None:
        async with self.db.read() as conn:
            return await sql.one(conn, BY_ID, {"id": charge_id})

    async def approved_key(self, merchant_id: str, payment_key: str) -> Row | None:
        async with self.db.read() as conn:
            return await sql.one(conn, APPROVED_KEY, {"merchant_id": merchant_id, "key": payment_key})

    async def set_status(self, charge_id: str, status: str, now: datetime, *, only_from: str | None = None,
                         failure_code: str | None = None) -> bool:
        which = [ch.c.id == charge_id] + ([ch.c.status == only_from] if only_from else [])
        async with self.db.tx() as conn:
            done = await conn.execute(ch.update().where(*which).values(status=status, failure_code=failure_code,
                                                                       updated_at=now))
        return bool(done.rowcount)

    async def waiting(self, merchant_id: str, payment_id: str) -> Row | None:
        """The payment's charge that waits on the buyer (a 3-D Secure challenge, a deposit)."""
        q = sa.select(ch).where(ch.c.payment_id == payment_id, ch.c.merchant_id == merchant_id,
                                ch.c.status == "requires_action")
        async with self.db.read() as conn:
            return await sql.one(conn, q)

    async def of_payment(self, merchant_id: str, payment_id: str, payment_key: str | None) -> list[Row]:
        which = ch.c.payment_id == payment_id
        if payment_key:
            which = sa.or_(which, ch.c.payment_key == payment_key)
        q = sa.select(ch).where(which, ch.c.merchant_id == merchant_id).order_by(ch.c.created_at, ch.c.id)
        async with self.db.read() as conn:
            return await sql.rows(conn, q)

    async def refunded(self, charge_id: str) -> int:
        q = sa.select(sa.func.coalesce(sa.func.sum(ch.c.amount), 0)).where(
            ch.c.parent_id == charge_id, ch.c.kind == "refund", ch.c.status == "succeeded")
        async with self.db.read() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def settled(self, merchant_id: str, since: datetime, until: datetime) -> list[Row]:
        """The money the sandbox moved for a merchant from `since` until before `until`: charges, captures and
        refunds that succeeded, each with its parent's method and order."""
        async with self.db.read() as conn:
            return await sql.rows(conn, SETTLED, {"merchant_id": merchant_id, "since": since, "until": until})

    async def key_of_order(self, merchant_id: str, order_id: str) -> str | None:
        q = sa.select(ch.c.payment_key).where(ch.c.merchant_id == merchant_id, ch.c.order_id == order_id,
                                              ch.c.payment_key.is_not(None), ch.c.status == "succeeded")
        async with self.db.read() as conn:
            key = (await conn.execute(q.limit(1))).scalar()
        return str(key) if key else None
