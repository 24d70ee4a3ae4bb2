"""Reconciliation's records: a run over a range of sale days, the rows that did not simply match (items), and the
resolutions people wrote for them. The columns of `models.reconciliation`; the report's own rows are the connectors'
neutral `ReportRow`s, and Gyeol's side is `books.Entry`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gyeol.core.records import Record

MATCHED, EXPECTED = "matched", "expected"
AMOUNT_MISMATCH, FEE_MISMATCH, DATE_MISMATCH = "amount_mismatch", "fee_mismatch", "date_mismatch"
MISSING_AT_PG, UNKNOWN_TO_GYEOL = "missing_at_pg", "unknown_to_gyeol"
# What a person must look at. `expected` is not one: the PG has not reported the row yet, and may still.
EXCEPTIONS = (AMOUNT_MISMATCH, FEE_MISMATCH, DATE_MISMATCH, MISSING_AT_PG, UNKNOWN_TO_GYEOL)
STATES = (MATCHED, EXPECTED, *EXCEPTIONS)


@dataclass(frozen=True, slots=True)
class Run(Record):
    id: str
    merchant_id: str
    livemode: bool
    pg: str
    source: str  # api | import
    date_from: date
    date_to: date
    status: str  # completed | failed
    counts: dict[str, int]
    gyeol_rows: int
    report_rows: int
    expected_until: date | None
    failure: str | None
    times: int  # how many times the range was run; each run replaced the one before
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Resolution(Record):
    id: str
    item_id: str
    merchant_id: str
    livemode: bool
    state: str
    note: str
    resolved_by: str
    caller: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Item(Record):
    id: str
    run_id: str
    merchant_id: str
    livemode: bool
    state: str
    type: str  # payment | cancel
    transaction_id: str
    payment_id: str | None
    settlement_id: str | None
    order_id: str | None
    sold_date: date
    gyeol_amount: int | None
    gyeol_fee: int | None
    gyeol_currency: str | None
    gyeol_payout_date: date | None
    pg_amount: int | None
    pg_fee: int | None
    pg_currency: str | None
    pg_payout_date: date | None
    created_at: datetime
    resolution: Resolution | None = None  # read with the item; not a column

    @property
    def status(self) -> str | None:
        """An exception is `open` until resolved; a row that is no exception has no status."""
        if self.state not in EXCEPTIONS:
            return None
        return "resolved" if self.resolution is not None else "open"


@dataclass(frozen=True, slots=True)
class Imported:
    """A report imported from a CSV file: how many rows, of which sale days."""

    id: str
    livemode: bool
    pg: str
    rows: int
    date_from: date
    date_to: date


def counts_of(states: dict[str, int]) -> dict[str, Any]:
    """Every state's count, zero where none."""
    return {s: int(states.get(s, 0)) for s in STATES}
