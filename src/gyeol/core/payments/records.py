"""A payment, an attempt at its PG, and a payment as a request leaves it: what the payment core reads, writes and
returns. Each face renders them its own way; the columns are those of `models.payments`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gyeol.core.records import Record
from gyeol.core.refunds.records import Refund


class Channel(StrEnum):
    """The API a payment was created through, kept with it. The core decides one thing by it: a payment of Toss's
    payment API is authenticated in the buyer's window and charged at its merchant's confirm (`authenticated.py`)."""

    API = "api"  # Gyeol's own API (seeds 000 and 003)
    TOSS_PAYMENT = "toss_payment"  # Toss's payment API: created by paymentKey, then confirmed (seed 001)
    TOSS_CONFIRM = "toss_confirm"  # the confirm, or the webhook, of a payment Toss's own window made (seed 004)
    SHOPPING = "shopping"  # a user's order paid through the shopping API, with a payment number (seed 002)


@dataclass(frozen=True, slots=True)
class Payment(Record):
    id: str
    merchant_id: str
    order_pk: str  # "" until the payment's transaction has its order (`rows.new_payment`)
    order_id: str
    livemode: bool
    channel: str  # a Channel
    status: str
    amount: int
    currency: str
    capture_method: str
    authorized_amount: int
    captured_amount: int
    refunded_amount: int
    refunding_amount: int
    open_attempt_id: str | None
    description: str | None
    customer_id: str | None
    user_id: str | None
    payment_key: str | None
    payment_number: str | None
    method_type: str | None
    payment_method_id: str | None
    card_brand: str | None
    card_last4: str | None
    connector: str | None
    pg_transaction_id: str | None
    failure_reason: str | None
    failure_message: str | None
    next_action_url: str | None
    client_token: str
    return_url: str | None
    cancel_url: str | None
    metadata: dict[str, Any]
    expires_at: datetime
    authorized_at: datetime | None
    captured_at: datetime | None
    canceled_at: datetime | None
    receipt_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt(Record):
    """One try at a PG: an authorization, a capture or a void. Its id is the PG's idempotency key."""

    id: str
    payment_id: str
    merchant_id: str
    livemode: bool
    kind: str
    status: str
    amount: int
    connector: str
    method_type: str | None
    pg_token: str | None
    pg_transaction_id: str | None
    error_code: str | None
    error_message: str | None
    next_check_at: datetime | None
    checks: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Charge:
    """A payment as a request leaves it, with its latest attempt (what its outcome is read from)."""

    payment: Payment
    attempt: Attempt | None = None


@dataclass(frozen=True, slots=True)
class Created:
    """A new payment (`create_intent`): where the buyer goes next, and its client token (None for the retry of a
    create that was cut short, whose first try never answered with one)."""

    charge: Charge
    redirect_url: str
    client_token: str | None


@dataclass(frozen=True, slots=True)
class Account:
    """The bank or virtual account behind a payment, decrypted for its owner (`accounts.opened`)."""

    kind: str  # bank | virtual_account
    bank_code: str
    account_number: str | None
    holder_name: str | None
    status: str  # a virtual account: waiting -> deposited | expired; a transfer's source: used
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a payment's printable receipt shows: the payment, whose merchant and order, the bank of its account
    and when the deposit came (never the account's number), and its cancellations, oldest first."""

    payment: Payment
    merchant_name: str
    order_name: str | None
    account_bank: str | None
    deposited_at: datetime | None
    cancels: list[Refund]
