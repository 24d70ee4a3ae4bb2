"""Toss Payments' v1 JSON, as the connector reads and writes it (docs/toss.md). Fields Gyeol does not use are
ignored; a payment object without its key or status is no answer at all."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Toss(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Failure(Toss):
    code: str | None = None
    message: str | None = None


class Cancel(Toss):
    cancel_amount: int
    transaction_key: str | None = None


class Checkout(Toss):
    url: str | None = None


class Payment(Toss):
    """The Payment object every payments endpoint answers with."""

    payment_key: str
    order_id: str = ""
    status: str
    total_amount: int = 0
    balance_amount: int = 0
    currency: str = "KRW"
    method: str | None = None  # in the caller's language: "카드" or "CARD"
    approved_at: str | None = None
    last_transaction_key: str | None = None
    secret: str | None = None
    failure: Failure | None = None
    cancels: list[Cancel] | None = None
    checkout: Checkout | None = None  # the payment window's address, while the buyer may pay in it


class Error(Toss):
    """Every error answer: {code, message}."""

    code: str = "UNKNOWN"
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
