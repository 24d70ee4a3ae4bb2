"""What the ledger reads and returns: a transfer (the columns of `models.ledger_transfers`), a payout, a balance
and one of its transactions. Each face renders them its own way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Transfer(Record):
    seq: int
    id: str
    merchant_id: str
    livemode: bool
    currency: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    code: str
    phase: str  # posted | held | post | void | expire
    held_id: str | None
    payment_id: str | None
    source_id: str
    pg_transaction_id: str | None
    available_on: date | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Payout(Record):
    """The PG paying a merchant's bank what its settlements due by `arrival_date` net, in one currency and mode
    (negative when refunds exceeded what was owed: the PG takes it back). Booked by the worker that marks the
    settlements paid (`settlements.service.SettlementService.mark_paid`)."""

    id: str
    merchant_id: str
    livemode: bool
    currency: str
    amount: int
    settlements: int
    arrival_date: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """What the PGs owe a merchant in one mode, per currency: `pending` before the payout date, `available` from
    it until paid out. Uncaptured authorizations are in neither."""

    livemode: bool
    available: dict[str, int]
    pending: dict[str, int]


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One change of the balance: a movement's main transfer, with its fee folded in (`net = amount - fee`)."""

    id: str  # the main transfer's
    livemode: bool
    type: str  # the main transfer's code: charge, deposit, refund, payout
    amount: int  # signed, as the balance sees it
    fee: int
    net: int
    currency: str
    source_id: str
    payment_id: str | None
    available_on: date | None
    created_at: datetime
