"""A settlement: what the merchant is paid for an approval (or gives back for a refund), less the fee, and when.
The columns of `models.settlements`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Settlement(Record):
    id: str
    merchant_id: str
    livemode: bool
    payment_id: str
    order_id: str
    source_id: str  # the payment for an approval, the refund for an adjustment: booked once
    kind: str  # payment | adjustment
    method: str
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    status: str  # scheduled | paid
    payout_date: date
    paid_at: datetime | None
    payout_id: str | None  # the payout that paid it (core.ledger.records.Payout)
    created_at: datetime
