"""The transfers of each money movement, as rows to write with the state change they book.

These are pure: the deciders that move a payment, a refund or a settlement add `inserting(...)` to the writes of
that change (`db.sql.write_all`), so the ledger is written in the same transaction, and on PostgreSQL in the same
statement, as the move it books. A transfer's id is made from its source and its movement (`transfer_id`): a
movement booked twice fails its transaction on the unique id, and a post names its hold without reading it.

The two-phase transfers (docs/ledger.md): an authorization is a held `charge`, which a capture posts (in part: the
rest is released) and a void releases; a refund is a held `refund` while the PG is asked, posted when it confirms
and voided when it refuses. A payment captured with its authorization, and a virtual account's deposit, are
posted in one step: nothing was held before.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gyeol.core.ledger.accounts import FEES, PAID_OUT, PG_BALANCE, REFUNDS, SALES, account_id
from gyeol.core.ledger.records import Payout
from gyeol.core.payments.records import Payment
from gyeol.core.refunds.records import Refund
from gyeol.core.settlements.records import Settlement
from gyeol.db import sql
from gyeol.models import ledger_transfers

Row = dict[str, Any]

CHARGE = "charge"  # buyer -> merchant: a card or bank payment's capture (held while only authorized)
DEPOSIT = "deposit"  # buyer -> merchant: a virtual account's deposit
FEE = "fee"  # the PG's fee on a charge or a deposit
REFUND = "refund"  # merchant -> buyer
FEE_REFUND = "fee_refund"  # the proportional part of the fee, returned with a refund (never the fixed part)
PAYOUT = "payout"  # the PG -> the merchant's bank
# The movements the balance's transactions list; the fees fold into them.
MAIN = (CHARGE, DEPOSIT, REFUND, PAYOUT)
FEE_CODES = (FEE, FEE_REFUND)
POSTED = ("posted", "post")  # the phases that change a posted balance


def transfer_id(source_id: str, code: str, phase: str = "posted") -> str:
    return f"{source_id}.{code}" if phase == "posted" else f"{source_id}.{code}.{phase}"


def _row(*, merchant_id: str, livemode: bool, currency: str, debit: str, credit: str, amount: int, code: str,
         phase: str, source_id: str, payment_id: str | None, now: datetime, held: bool = False,
         pg_transaction_id: str | None = None, available_on: date | None = None) -> Row:
    assert amount > 0, (code, amount)  # the database refuses it too
    return {
        "id": transfer_id(source_id, code, phase), "merchant_id": merchant_id, "livemode": livemode,
        "currency": currency, "debit_account_id": account_id(merchant_id, livemode, currency, debit),
        "credit_account_id": account_id(merchant_id, livemode, currency, credit), "amount": amount, "code": code,
        "phase": phase, "held_id": transfer_id(source_id, code, "held") if held else None,
        "payment_id": payment_id, "source_id": source_id, "pg_transaction_id": pg_transaction_id,
        "available_on": available_on, "created_at": now,
    }


def _of(p: Payment, now: datetime) -> dict[str, Any]:
    return {"merchant_id": p.merchant_id, "livemode": p.livemode, "currency": p.currency, "payment_id": p.id,
            "now": now}


def authorized(p: Payment, now: datetime) -> list[Row]:
    """The authorization's hold: the buyer's money, not yet the merchant's."""
    return [_row(**_of(p, now), debit=PG_BALANCE, credit=SALES, amount=p.authorized_amount, code=CHARGE,
                 phase="held", source_id=p.id, pg_transaction_id=p.pg_transaction_id)]


def released(p: Payment, now: datetime, phase: str = "void") -> list[Row]:
    """The hold voided (or expired), whole: nothing was captured."""
    return [_row(**_of(p, now), debit=PG_BALANCE, credit=SALES, amount=p.authorized_amount, code=CHARGE,
                 phase=phase, held=True, source_id=p.id)]


def taken(p: Payment, s: Settlement, now: datetime, *, held: bool) -> list[Row]:
    """Money taken, as settlement `s` books it: the capture (posting the hold, when `held`, for what was
    captured: the rest is released) or the deposit, and the PG's fee, both available on the payout date."""
    code = DEPOSIT if p.method_type == "virtual_account" else CHARGE
    rows = [_row(**_of(p, now), debit=PG_BALANCE, credit=SALES, amount=s.gross_amount, code=code,
                 phase="post" if held else "posted", held=held, source_id=p.id,
                 pg_transaction_id=p.pg_transaction_id, available_on=s.payout_date)]
    if s.fee_amount > 0:
        rows.append(_row(**_of(p, now), debit=FEES, credit=PG_BALANCE, amount=s.fee_amount, code=FEE,
                         phase="posted", source_id=p.id, pg_transaction_id=p.pg_transaction_id,
                         available_on=s.payout_date))
    return rows


def _of_refund(r: Refund, now: datetime) -> dict[str, Any]:
    return {"merchant_id": r.merchant_id, "livemode": r.livemode, "currency": r.currency,
            "payment_id": r.payment_id, "source_id": r.id, "now": now}


def refund_held(r: Refund, now: datetime) -> list[Row]:
    """A refund while the PG is asked: held, out of nobody's posted balance yet."""
    return [_row(**_of_refund(r, now), debit=REFUNDS, credit=PG_BALANCE, amount=r.amount, code=REFUND,
                 phase="held")]


def refund_settled(r: Refund, s: Settlement | None, now: datetime) -> list[Row]:
    """The PG's answer to a held refund: refused (`s` None), the hold voided; confirmed, the hold posted with the
    fee's proportional part returned, as the refund's settlement `s` books them."""
    if s is None:
        return [_row(**_of_refund(r, now), debit=REFUNDS, credit=PG_BALANCE, amount=r.amount, code=REFUND,
                     phase="void", held=True)]
    rows = [_row(**_of_refund(r, now), debit=REFUNDS, credit=PG_BALANCE, amount=-s.gross_amount, code=REFUND,
                 phase="post", held=True, pg_transaction_id=r.pg_transaction_id, available_on=s.payout_date)]
    if s.fee_amount < 0:
        rows.append(_row(**_of_refund(r, now), debit=PG_BALANCE, credit=FEES, amount=-s.fee_amount,
                         code=FEE_REFUND, phase="posted", pg_transaction_id=r.pg_transaction_id,
                         available_on=s.payout_date))
    return rows


def paid_out(po: Payout) -> list[Row]:
    """A payout, out of the available balance into the merchant's bank (back, when it is negative)."""
    if po.amount == 0:
        return []
    debit, credit = (PAID_OUT, PG_BALANCE) if po.amount > 0 else (PG_BALANCE, PAID_OUT)
    return [_row(merchant_id=po.merchant_id, livemode=po.livemode, currency=po.currency, debit=debit,
                 credit=credit, amount=abs(po.amount), code=PAYOUT, phase="posted", source_id=po.id,
                 payment_id=None, now=po.created_at, available_on=po.arrival_date)]


def inserting(rows: list[Row]) -> list[sql.Insert]:
    """The rows as a write to make with the change's others (none when there are no rows)."""
    return [sql.Insert(ledger_transfers, rows)] if rows else []
