"""Matching a PG's report against Gyeol's books, one to one by the PG's transaction id (the payment's for an
approval, the refund's for a cancel), comparing amount (and currency), fee and payout day. Pure: rows in, each
row's state out.

Gyeol's side is read a day wider than the range on either side: a PG whose clock puts a sale just past midnight
still finds Gyeol's row, and a row of Gyeol's outside the range that the report does not name belongs to the
neighbouring day's run, not to this one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from gyeol.connectors.base import ReportRow
from gyeol.core.reconciliation.books import Entry
from gyeol.core.reconciliation.records import (
    AMOUNT_MISMATCH,
    DATE_MISMATCH,
    EXPECTED,
    FEE_MISMATCH,
    MATCHED,
    MISSING_AT_PG,
    UNKNOWN_TO_GYEOL,
)


@dataclass(frozen=True, slots=True)
class Found:
    """A row that did not simply match: its state, and what each side says (None: that side has no row)."""

    state: str
    type: str
    key: str
    gyeol: Entry | None
    pg: ReportRow | None


@dataclass
class Outcome:
    counts: Counter[str] = field(default_factory=Counter)
    found: list[Found] = field(default_factory=list)
    gyeol_rows: int = 0
    report_rows: int = 0
    expected_until: date | None = None


def compare(gyeol: Entry, pg: ReportRow) -> str:
    if gyeol.amount != pg.amount or gyeol.currency != pg.currency:
        return AMOUNT_MISMATCH
    if gyeol.fee != pg.fee:
        return FEE_MISMATCH
    if gyeol.payout_date != pg.payout_date:
        return DATE_MISMATCH
    return MATCHED


def match(books: list[Entry], report: list[ReportRow], start: date, end: date, today: date) -> Outcome:
    """Each row's state. A row of Gyeol's the report lacks is `expected` until its payout day (the PG has not
    settled it yet), then `missing_at_pg`; a row of the report's that Gyeol lacks is `unknown_to_gyeol`."""
    out = Outcome(report_rows=len(report))
    by_key: dict[tuple[str, str], ReportRow] = {}
    for row in report:
        key = (row.type, row.transaction_id)
        n = 1
        while key in by_key:  # the PG reported one transaction twice: the copy matches nothing of Gyeol's
            n += 1
            key = (row.type, f"{row.transaction_id}#{n}")
        by_key[key] = row
    for entry in books:
        wanted = (entry.type, entry.key)
        found = by_key.pop(wanted) if wanted in by_key else None
        if found is None:
            if not start <= entry.sold_date <= end:
                continue  # the neighbouring day's, which that day's run settles
            state = EXPECTED if today < entry.payout_date else MISSING_AT_PG
            if state == EXPECTED:
                out.expected_until = max(out.expected_until or entry.payout_date, entry.payout_date)
        else:
            state = compare(entry, found)
        out.gyeol_rows += 1
        out.counts[state] += 1
        if state != MATCHED:
            out.found.append(Found(state, entry.type, entry.key, entry, found))
    for (type_, tx), row in by_key.items():
        out.counts[UNKNOWN_TO_GYEOL] += 1
        out.found.append(Found(UNKNOWN_TO_GYEOL, type_, tx, None, row))
    return out
