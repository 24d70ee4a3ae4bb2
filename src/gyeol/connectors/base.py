"""The one connector protocol and the neutral types every PG speaks through.

Only `connectors/<pg>/` knows a PG's wire format. A connector keeps nothing and reads no database: each call takes
a request that carries the merchant's credentials, which the core reads and decrypts. A connector never raises for
a PG's answer: a decline is a result, and an answer it cannot read (a status it does not know) is the outcome
`unknown`, never a failure. It raises `ConnectorUnavailable` only when the PG could not be reached or did not
answer (timeout, connection error), which the core records as `unknown` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

Outcome = Literal["succeeded", "authorized", "failed", "requires_action", "not_found", "unknown"]
# A payment as its PG sees it, found by its key or its order.
PgStatus = Literal["approved", "partial_canceled", "canceled", "waiting_for_deposit", "pending", "failed",
                   "expired", "unknown"]


class ConnectorUnavailable(Exception):
    """The PG could not be reached or did not answer in time: the outcome is unknown."""


@dataclass(frozen=True)
class Credentials:
    """The merchant's account at a PG, handed to the connector with every call: the merchant the PG keeps its books
    by, and the merchant's own secret key there when the PG asks for one (`Connector.needs_secret`)."""

    merchant_id: str
    secret_key: str | None = None

    def __repr__(self) -> str:  # a secret key never reaches a log line or a traceback
        return f"Credentials(merchant_id={self.merchant_id!r})"


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
class TokenizeRequest:
    credentials: Credentials
    card: CardData


@dataclass(frozen=True)
class TokenQuery:
    credentials: Credentials
    token: str


@dataclass(frozen=True)
class AuthorizeRequest:
    credentials: Credentials
    reference: str  # our attempt id: the PG-side idempotency key
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

    credentials: Credentials
    reference: str
    payment_id: str
    pg_transaction_id: str
    amount: int
    currency: str
    reason: str | None = None
    fault: str | None = None


@dataclass(frozen=True)
class LookupRequest:
    """What became of a request whose answer was lost or is awaited. `reference` is the request's idempotency key
    (None: a charge the buyer made at the PG, known by its `pg_transaction_id`); the rest are the hints a PG that
    does not keep requests by reference needs."""

    credentials: Credentials
    kind: str  # authorize | capture | void | refund
    reference: str | None
    payment_id: str
    amount: int
    order_id: str | None = None
    payment_key: str | None = None
    pg_transaction_id: str | None = None
    reason: str | None = None  # a refund's, for a PG that learns a lost answer by the request sent again


@dataclass(frozen=True)
class PaymentQuery:
    """A payment a PG's own window created, asked of the PG by its key or by its order."""

    credentials: Credentials
    payment_key: str | None = None
    order_id: str | None = None


@dataclass(frozen=True)
class WindowRequest:
    """A payment to open at a PG that takes the buyer's payment in a window of its own (`Connector.hosts_window`):
    the PG creates the payment and names it (its payment key), the buyer authenticates in its window and is sent
    back to `success_url` (or `fail_url`) with that key, and the merchant's confirm charges (`authorize`)."""

    credentials: Credentials
    reference: str  # the PG-side idempotency key: the same opening sent again answers the same payment
    order_id: str
    order_name: str
    amount: int
    currency: str
    success_url: str
    fail_url: str
    method_type: str = "card"


@dataclass(frozen=True)
class OpenedWindow:
    """The PG's answer to `open_window`: its payment (key, order and amount as the PG recorded them) and the window's
    address; or, when the PG refused to open it, its failure code and message and no key."""

    payment_key: str | None = None
    checkout_url: str | None = None
    order_id: str | None = None
    amount: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class IssuedAccount:
    """A virtual account the PG issued for the buyer's deposit."""

    bank_code: str
    account_number: str
    holder_name: str

    def __repr__(self) -> str:
        return f"IssuedAccount(bank_code={self.bank_code!r})"


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
    amount: int | None = None  # what the PG charged, where it says (a lookup)
    virtual_account: IssuedAccount | None = None


@dataclass(frozen=True)
class PgPayment:
    """A PG's own view of a payment found by its key or order: what an unsigned webhook is checked against."""

    payment_key: str
    order_id: str
    status: PgStatus
    total_amount: int
    balance_amount: int
    pg_transaction_id: str  # what the PG's cancel of this payment takes
    currency: str = "KRW"
    method: str | None = None  # card | bank | virtual_account; None for a method the core has no type for
    approved_at: str | None = None
    last_transaction_key: str | None = None
    secret: str | None = None  # the PG's per-payment secret, repeated in its deposit callback


@dataclass(frozen=True)
class PgEvent:
    """A PG's webhook, verified, in the core's terms: its word on one of a payment's requests, and the amount it
    speaks of where it says."""

    payment_id: str
    result: AttemptResult
    amount: int | None = None


@dataclass(frozen=True)
class ReportQuery:
    """A PG's settlement report for the transactions sold (approved or cancelled) from `start` to `end`, both
    inclusive, in Korean days."""

    credentials: Credentials
    start: date
    end: date


@dataclass(frozen=True)
class ReportRow:
    """One row of a PG's settlement report: one approval (`payment`) or one cancel, with its fee, in minor units.
    A cancel's amounts are negative, as the money goes back. `transaction_id` is what Gyeol keeps as the PG's
    transaction id: the payment's for an approval, the refund's for a cancel; `payment_transaction_id` is the
    payment's for either."""

    transaction_id: str
    type: Literal["payment", "cancel"]
    amount: int
    fee: int
    vat: int
    net: int
    currency: str
    sold_date: date
    payout_date: date
    order_id: str = ""
    payment_transaction_id: str | None = None


class Connector(Protocol):
    name: str
    # Whether each call needs the merchant's own secret key at the PG, which the core then reads and decrypts.
    needs_secret: bool
    # Whether the PG takes the buyer's payment in a window of its own (`open_window`) instead of Gyeol's checkout.
    hosts_window: bool

    async def tokenize(self, req: TokenizeRequest) -> TokenInfo: ...
    async def describe_token(self, req: TokenQuery) -> TokenInfo | None: ...
    async def authorize(self, req: AuthorizeRequest) -> AttemptResult: ...
    async def capture(self, req: FollowUpRequest) -> AttemptResult: ...
    async def void(self, req: FollowUpRequest) -> AttemptResult: ...
    async def refund(self, req: FollowUpRequest) -> AttemptResult: ...
    async def lookup(self, req: LookupRequest) -> AttemptResult: ...
    async def open_window(self, req: WindowRequest) -> OpenedWindow: ...
    async def find_payment(self, req: PaymentQuery) -> PgPayment | None: ...
    def parse_event(self, type: str, data: dict[str, Any]) -> PgEvent | None: ...
    # Raises ConnectorUnavailable when the PG did not answer, or answered with no report (a refusal included).
    async def settlement_report(self, req: ReportQuery) -> list[ReportRow]: ...
    async def aclose(self) -> None: ...
