"""What callers ask of the payment core, independent of any face's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gyeol.connectors.base import CardData
from gyeol.core.errors import DomainError
from gyeol.core.payments.records import Channel, Payment
from gyeol.core.states import PAYMENT_MONEY_TAKEN

# The method names of seeds 002 and 003 -> the core's method types.
METHOD_TYPES = {"CARD": "card", "BANK": "bank", "VIRTUAL_ACCOUNT": "virtual_account"}


@dataclass(frozen=True)
class MethodSpec:
    token: str | None = None
    payment_method_id: str | None = None
    card: CardData | None = None
    payment_key: str | None = None
    type: str = "card"  # card | bank | virtual_account
    bank: BankInfo | None = None

    @property
    def given(self) -> bool:
        if self.type == "bank":
            return self.bank is not None
        if self.type == "virtual_account":
            return True  # the PG issues the account
        return bool(self.token or self.payment_method_id or self.card or self.payment_key)


@dataclass(frozen=True)
class BankInfo:
    """A real-time transfer's source account; the number is encrypted when stored."""

    bank_code: str
    account_number: str | None = None
    holder_name: str | None = None

    def __repr__(self) -> str:
        return f"BankInfo(bank_code={self.bank_code!r})"


@dataclass(frozen=True)
class CreateIntent:
    order_id: str
    amount: int
    currency: str = "KRW"
    capture: bool = True
    description: str | None = None
    customer_id: str | None = None
    user_id: str | None = None
    return_url: str | None = None
    cancel_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    order_name: str | None = None
    confirm: bool = False
    method: MethodSpec | None = None
    channel: Channel = Channel.API
    payment_key: str | None = None
    assign_payment_number: bool = False  # a PAY-YYYYMMDD-NNN number, the merchant's next of the day
    order_must_exist: bool = False  # the order must already exist (and be the calling user's)
    connector: str | None = None  # the payment's PG, where it is known before any confirm (its window's host)
    window_url: str | None = None  # where the buyer pays, when the PG opened a window of its own for the payment


@dataclass(frozen=True)
class ResolvedMethod:
    type: str
    token: str | None = None
    payment_method_id: str | None = None
    brand: str | None = None
    last4: str | None = None
    payment_key: str | None = None
    connector: str | None = None  # chosen at resolution for paymentKey flows (the merchant's own PG, or the default)
    bank: BankInfo | None = None


@dataclass(frozen=True, slots=True)
class CancelPolicy:
    """A face's own limits on canceling a payment whose money was taken (seed 002: a card for 7 days, a bank
    transfer never: it is refunded instead). The core checks them under the payment's lock, in the transaction
    that would give the money back, so a capture that lands after the face read the payment is held to them too."""

    window: timedelta | None = None  # how long after its capture a payment may be canceled
    refunded_only: frozenset[str] = frozenset()  # method types that are never canceled, only refunded

    def check(self, p: Payment, now: datetime) -> None:
        if p.status not in PAYMENT_MONEY_TAKEN:
            return  # nothing was taken: a cancel gives nothing back
        details = {"paymentId": p.id, "methodType": p.method_type}
        if p.method_type in self.refunded_only:
            raise DomainError("validation", "METHOD_NOT_CANCELABLE",
                              f"A {p.method_type} payment cannot be canceled; ask for a refund.", details=details)
        if self.window is not None and p.captured_at is not None and now - p.captured_at > self.window:
            raise DomainError("validation", "CANCEL_WINDOW_PASSED",
                              f"A payment can be canceled for {self.window / timedelta(days=1):g} days after its "
                              "capture.", details=details)
