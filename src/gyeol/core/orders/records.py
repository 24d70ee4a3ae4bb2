"""An order: what the merchant sells, and what a payment is checked against. The columns of `models.orders`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Order(Record):
    id: str
    merchant_id: str
    livemode: bool
    order_id: str
    amount: int
    currency: str
    status: str
    paid_amount: int
    refunded_amount: int
    customer_id: str | None
    user_id: str | None
    order_name: str | None
    items: list[dict[str, Any]] | None
    metadata: dict[str, Any]
    payment_id: str | None
    payment_key: str | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime
