"""Toss Payments' v1 JSON, as the connector reads and writes it (docs/toss.md). Fields Gyeol does not use are
ignored; a payment object without its key or status is no answer at all."""

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
    transaction_key: str | None = None


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


class Error(Toss):
    """Every error answer: {code, message}."""

    code: str = "UNKNOWN"
    message: str | None = None


class ConfirmIn(Toss):
    payment_key: str
    order_id: str
    amount: int


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
