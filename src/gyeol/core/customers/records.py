"""A merchant's customer and the payment methods saved for it (a PG's token, never a card number). The columns of
`models.customers` and `models.payment_methods`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Customer(Record):
    id: str
    merchant_id: str
    livemode: bool
    customer_id: str  # the merchant's own id for it
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentMethod(Record):
    id: str
    merchant_id: str
    livemode: bool
    customer_pk: str
    type: str
    pg_token: str
    connector: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str | None
    billing_details: dict[str, Any] | None  # {"encrypted": ...}: names, e-mail addresses and phone numbers
    is_default: bool
    deleted_at: datetime | None
    created_at: datetime
