"""The sandbox PG's wire format: its answers (`gyeol.simulators.sandbox.pg`), as typed records."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(Answer):
    bank_code: str
    account_number: str
    holder_name: str


class Charge(Answer):
    """A charge, capture, void or refund in the sandbox's books; `id` is None for a request refused unrecorded."""

    id: str | None
    status: str
    kind: str | None = None
    payment_id: str | None = None
    amount: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    challenge_url: str | None = None
    virtual_account: Account | None = None
    brand: str | None = None
    last4: str | None = None


class Token(Answer):
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


class KeyedPayment(Answer):
    """A payment the sandbox approved for a paymentKey, with its balance after refunds."""

    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int
    currency: str
    method: str | None
    approved_at: str | None
    charge_id: str


class EventData(Answer):
    """The `data` of the sandbox's signed webhooks `payment.succeeded` and `payment.failed`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    payment_id: str
    amount: int | None = None
    pg_transaction_id: str | None = None
    failure_reason: str | None = None
    failure_message: str | None = None


class ReportLine(Answer):
    """A row of the sandbox's settlement report (`simulators/sandbox/reports.py`)."""

    transaction_id: str
    payment_transaction_id: str | None
    type: Literal["payment", "cancel"]
    order_id: str
    amount: int
    fee: int
    vat: int
    net: int
    currency: str
    sold_date: date
    payout_date: date
