"""Bank accounts behind payments (a transfer's source, an issued virtual account) and payment numbers.

Account numbers are stored encrypted (DataCipher) with their last four digits beside them; only the owner's
views decrypt them. Payment numbers (`PAY-YYYYMMDD-NNN`) come from a per-merchant, per-day counter bumped with
one atomic upsert inside the transaction that inserts the payment, so concurrent payments never share a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gyeol.core.clock import KST
from gyeol.core.payments.records import Account, Payment
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import counters, payment_accounts

Row = dict[str, Any]


async def next_value(conn: Conn, merchant_id: str, name: str) -> int:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(counters).values(merchant_id=merchant_id, name=name, value=1)
        .on_conflict_do_update(index_elements=["merchant_id", "name"], set_={"value": counters.c.value + 1})
        .returning(counters.c.value)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def next_payment_number(conn: Conn, merchant_id: str, now: datetime) -> str:
    day = now.astimezone(KST).strftime("%Y%m%d")  # a Korean shop's day
    n = await next_value(conn, merchant_id, f"payment_number:{day}")
    return f"PAY-{day}-{n:03d}"


async def record(conn: Conn, cipher: DataCipher, p: Payment, *, kind: str, bank_code: str,
                 account_number: str | None, holder_name: str | None, now: datetime,
                 due_at: datetime | None = None) -> Row:
    row = {
        "payment_id": p.id, "merchant_id": p.merchant_id, "livemode": p.livemode, "kind": kind, "bank_code": bank_code,
        "account_number": cipher.encrypt(account_number), "last4": account_number[-4:] if account_number else None,
        "holder_name": cipher.encrypt(holder_name), "status": "waiting" if kind == "virtual_account" else "used",
        "due_at": due_at, "deposited_at": None, "created_at": now, "updated_at": now,
    }
    await conn.execute(payment_accounts.insert().values(**row))
    return row


async def get(conn: Conn, payment_id: str) -> Row | None:
    row = (await conn.execute(sa.select(payment_accounts).where(payment_accounts.c.payment_id == payment_id))
           ).mappings().first()
    return dict(row) if row else None


async def set_status(conn: Conn, payment_id: str, status: str, now: datetime, **values: Any) -> None:
    await sql.write_all(conn, [setting_status(payment_id, status, now, **values)])


def setting_status(payment_id: str, status: str, now: datetime, **values: Any) -> sql.Update:
    """`set_status` as a write to make with others (`sql.write_all`)."""
    return sql.Update(payment_accounts, {"status": status, "updated_at": now, **values}, {"payment_id": payment_id})


async def due_virtual_accounts(conn: Conn, now: datetime, limit: int) -> list[str]:
    q = sa.select(payment_accounts.c.payment_id).where(
        payment_accounts.c.kind == "virtual_account", payment_accounts.c.status == "waiting",
        payment_accounts.c.due_at <= now).limit(limit)
    return [r[0] for r in (await conn.execute(q)).all()]


def opened(row: Row, cipher: DataCipher) -> Account:
    """A stored account, its number and holder decrypted."""
    return Account(kind=row["kind"], bank_code=row["bank_code"], account_number=cipher.decrypt(row["account_number"]),
                   holder_name=cipher.decrypt(row["holder_name"]), status=row["status"], due_at=row["due_at"])


async def rotate(conn: Conn, cipher: DataCipher) -> int:
    """Re-encrypt every stored account under the current key (`gyeol keys rotate-data`)."""
    rows = (await conn.execute(sa.select(payment_accounts.c.payment_id, payment_accounts.c.account_number,
                                         payment_accounts.c.holder_name))).all()
    for r in rows:
        await conn.execute(payment_accounts.update().where(payment_accounts.c.payment_id == r.payment_id).values(
            account_number=cipher.rotate(r.account_number), holder_name=cipher.rotate(r.holder_name)))
    return len(rows)
