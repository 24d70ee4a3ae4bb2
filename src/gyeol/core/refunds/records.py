"""A refund of part or all of a payment's captured money. The columns of `models.refunds`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Refund(Record):
    id: str
    merchant_id: str
    livemode: bool
    payment_id: str
    amount: int
    currency: str
    status: str  # pending (at the PG, or its answer lost) -> succeeded | failed
    reason: str | None
    is_cancel: bool  # asked for as a cancel: when it completes the payment, the payment ends `canceled`
    metadata: dict[str, Any]
    pg_transaction_id: str | None
    failure_reason: str | None
    connector: str
    created_at: datetime
    updated_at: datetime
