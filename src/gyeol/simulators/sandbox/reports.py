"""The sandbox PG's settlement report, from its own books: a row for each charge it took (or capture it made) and
each refund, at its own fees, with its own days, as a Korean PG reports them (docs/ledger.md, Reconciliation).

Its contract is the one Gyeol's merchants get by default (card 2.50 %, bank 1.50 %, virtual account ₩300 a
deposit; a refund gives back the fee's rate part, never its fixed part; paid out two business days after the sale),
written here on its own: a merchant who configured other fees in Gyeol sees its report disagree, as it would at a
PG whose contract differs from what Gyeol was told.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import Any

from gyeol.core.clock import KST
from gyeol.core.money import apply_rate, vat_inside
from gyeol.core.settlements.service import add_business_days
from gyeol.simulators.sandbox.books import Books, Row

FEES = {"card": (250, 0), "bank": (150, 0), "virtual_account": (0, 300)}
PAYOUT_DAYS = 2


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), KST)


@functools.lru_cache(maxsize=64)
def payout_of(sold: date) -> date:
    return add_business_days(sold, PAYOUT_DAYS)


def row_of(charge: Row) -> dict[str, Any]:
    """One settled charge as the sandbox reports it (its wire format: plain names and values, amounts signed)."""
    kind = charge["kind"]
    method = (charge["method"] if kind == "charge" else charge["parent_method"]) or "card"
    bps, fixed = FEES.get(method, FEES["card"])
    sold = charge["updated_at"].astimezone(KST).date()
    if kind == "refund":
        amount, fee = -charge["amount"], -apply_rate(charge["amount"], bps)
        key, payment = charge["id"], charge["parent_id"]
    else:
        amount, fee = charge["amount"], apply_rate(charge["amount"], bps, fixed)
        key = payment = charge["id"] if kind == "charge" else charge["parent_id"]
    return {"transaction_id": key, "payment_transaction_id": payment, "type": "cancel" if kind == "refund" else
            "payment", "order_id": (charge["order_id"] if kind == "charge" else charge["parent_order_id"]) or "",
            "amount": amount, "fee": fee, "vat": vat_inside(fee), "net": amount - fee, "currency": charge["currency"],
            "sold_date": sold, "payout_date": payout_of(sold)}


async def report(books: Books, merchant_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """The rows sold from `start` to `end` (Korean days, both inclusive)."""
    settled = await books.settled(merchant_id, _day_start(start), _day_start(end + timedelta(days=1)))
    return [row_of(c) for c in settled]
