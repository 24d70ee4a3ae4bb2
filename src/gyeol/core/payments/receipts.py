"""The SQL of a payment's printable receipt, found by its random receipt id, the only key to it (no caller)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from gyeol.core.payments.records import Payment, Receipt
from gyeol.core.refunds import repository as refunds_repo
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import merchants, orders, payment_accounts, payments

# Of the account, only its bank and the deposit's time: the number stays encrypted and off the receipt.
BY_RECEIPT_ID = (
    sa.select(payments, merchants.c.name.label("merchant_name"), orders.c.order_name,
              payment_accounts.c.bank_code.label("account_bank"),
              payment_accounts.c.deposited_at.label("deposited_at"))
    .join(merchants, merchants.c.id == payments.c.merchant_id)
    .join(orders, orders.c.id == payments.c.order_pk)
    .outerjoin(payment_accounts, payment_accounts.c.payment_id == payments.c.id)
    .where(payments.c.receipt_id == sa.bindparam("receipt_id"))
)
_PAYMENT_COLUMNS = len(payments.c)


def new_id() -> str:
    """A receipt's id: random, because a paymentKey or a payment id can be guessed. A payment gets it in the
    transaction that applies the PG's approval (or issues its virtual account): `answers.py`."""
    return "rcpt_" + secrets.token_urlsafe(18)


async def find(conn: Conn, receipt_id: str) -> Receipt | None:
    row = await sql.one(conn, BY_RECEIPT_ID, {"receipt_id": receipt_id})
    if row is None:
        return None
    values = list(row.values())
    p = Payment(*values[:_PAYMENT_COLUMNS])
    return Receipt(p, row["merchant_name"], row["order_name"], row["account_bank"], row["deposited_at"],
                   await refunds_repo.succeeded(conn, p.id))
