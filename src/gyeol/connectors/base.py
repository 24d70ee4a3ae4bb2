"""The connector protocol and the neutral types every PG speaks through.

Only `connectors/<pg>/` knows a PG's wire format. A connector never raises for a PG's answer:
a decline is a result. It raises `ConnectorUnavailable` only when it cannot know the outcome
(timeout, connection error), which the core records as `unknown`, never as failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Outcome = Literal["succeeded", "authorized", "failed", "requires_action", "not_found"]


class ConnectorUnavailable(Exception):
    """The PG could not be reached or did not answer in time: the outcome is unknown."""


@dataclass(frozen=True)
class CardData:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # never let a card number reach a log line or a traceback
        return f"CardData(last4={self.number[-4:]})"


@dataclass(frozen=True)
class TokenInfo:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


@dataclass(frozen=True)
class AuthorizeRequest:
    reference: str  # our attempt id: the PG-side idempotency key
    merchant_id: str
    payment_id: str
    amount: int
    currency: str
    capture: bool
    token: str | None = None
    payment_key: str | None = None
    order_id: str | None = None
    method_type: str = "card"
    fault: str | None = None


@dataclass(frozen=True)
class FollowUpRequest:
    """Capture, void or refund of an earlier authorization."""

    reference: str
    merchant_id: str
    payment_id: str
    pg_transaction_id: str
    amount: int
    currency: str
    reason: str | None = None
    fault: str | None = None


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    pg_transaction_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action_url: str | None = None
    brand: str | None = None
    last4: str | None = None
    approved_at: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class Connector(Protocol):
    name: str

    async def tokenize(self, merchant_id: str, card: CardData) -> TokenInfo: ...
    async def describe_token(self, merchant_id: str, token: str) -> TokenInfo | None: ...
    async def authorize(self, req: AuthorizeRequest) -> AttemptResult: ...
    async def capture(self, req: FollowUpRequest) -> AttemptResult: ...
    async def void(self, req: FollowUpRequest) -> AttemptResult: ...
    async def refund(self, req: FollowUpRequest) -> AttemptResult: ...
    async def lookup(self, merchant_id: str, reference: str, *, order_id: str | None = None,
                     payment_key: str | None = None, amount: int | None = None, kind: str = "authorize"
                     ) -> AttemptResult: ...


@dataclass(frozen=True)
class PgPayment:
    """A PG's own view of a payment found by its key: what an unsigned webhook is checked against.

    status is neutral: approved | partial_canceled | canceled | waiting_for_deposit | pending | failed | expired.
    """

    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int
    currency: str = "KRW"
    method: str | None = None
    approved_at: str | None = None
    last_transaction_key: str | None = None
    secret: str | None = None
    raw: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyedConfirm:
    """Confirm of a payment that a PG's own payment window created and named (Toss's paymentKey)."""

    reference: str  # our attempt id: sent as the PG's Idempotency-Key
    merchant_id: str
    payment_key: str
    order_id: str
    amount: int
    currency: str = "KRW"
    fault: str | None = None


@dataclass(frozen=True)
class KeyedCancel:
    reference: str
    merchant_id: str
    payment_key: str
    reason: str
    amount: int | None = None  # None cancels the whole balance
    fault: str | None = None


@dataclass(frozen=True)
class KeyedResult:
    """A keyed PG's answer: the payment as the PG now sees it, or the PG's own error (code, message, HTTP status)."""

    payment: PgPayment | None = None
    error_code: str | None = None
    error_message: str | None = None
    http_status: int = 200


class KeyedPG(Protocol):
    """A PG addressed by paymentKey (Toss-style flows: kiosk and shop faces). Raises ConnectorUnavailable when the
    outcome is unknown (timeout, connection error); every PG answer, including a rejection, is a KeyedResult."""

    name: str

    async def confirm(self, req: KeyedConfirm) -> KeyedResult: ...
    async def cancel(self, req: KeyedCancel) -> KeyedResult: ...
    async def get_payment(self, merchant_id: str, payment_key: str) -> PgPayment | None: ...
    async def get_by_order(self, merchant_id: str, order_id: str) -> PgPayment | None: ...
