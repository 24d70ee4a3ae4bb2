"""Toss Payments' v1 JSON, as the connector reads and writes it (docs/toss.md). Fields Gyeol does not use are
ignored. Toss sends every field of its objects, null where it has no value; an answer without one that Gyeol reads
is no answer at all (the outcome stays unknown), never a default that could read as a refusal or a wrong amount.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Toss(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Failure(Toss):
    code: str | None = None
    message: str | None = None


class Cancel(Toss):
    cancel_amount: int
    transaction_key: str | None


class Checkout(Toss):
    url: str | None = None


class Payment(Toss):
    """The Payment object every payments endpoint answers with."""

    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int
    currency: str
    method: str | None  # in the caller's language: "카드" or "CARD"
    approved_at: str | None
    last_transaction_key: str | None
    secret: str | None
    failure: Failure | None
    cancels: list[Cancel] | None
    checkout: Checkout | None = None  # the payment window's address, while the buyer may pay in it


class Error(Toss):
    """Every error answer: {code, message}."""

    code: str
    message: str | None = None


class ConfirmIn(Toss):
    payment_key: str
    order_id: str
    amount: int


class CreateIn(Toss):
    """Toss's payment creation (`POST /v1/payments`), the API way to open its payment window."""

    method: str
    amount: int
    order_id: str
    order_name: str
    success_url: str
    fail_url: str


class CancelIn(Toss):
    cancel_reason: str
    cancel_amount: int | None = None


class Fee(Toss):
    type: str = "BASE"
    fee: int = 0


class SettlementCancel(Toss):
    cancel_amount: int = 0
    transaction_key: str | None = None


class SettlementRow(Toss):
    """A row of `GET /v1/settlements`: one approval or one cancel (a cancel's amounts negative), with its fee
    (VAT included) and its days. `fee` is in every live row but absent from some samples: then it is the sum of
    `fees`."""

    payment_key: str
    transaction_key: str | None = None
    order_id: str = ""
    currency: str = "KRW"
    amount: int
    fee: int | None = None
    fees: list[Fee] | None = None
    vat: int = 0
    pay_out_amount: int
    sold_date: date
    paid_out_date: date
    cancel: SettlementCancel | None = None
