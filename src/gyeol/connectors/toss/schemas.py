"""Toss Payments' v1 JSON, as the connector reads and writes it (docs/toss.md). Fields Gyeol does not use are
ignored. Toss sends every field of its objects, null where it has no value; an answer without one that Gyeol reads
is no answer at all (the outcome stays unknown), never a default that could read as a refusal or a wrong amount.
"""

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
