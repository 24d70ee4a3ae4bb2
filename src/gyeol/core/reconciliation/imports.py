"""A PG's settlement report as a CSV file, for a PG Gyeol has no report API for (docs/ledger.md, Reconciliation):
a header naming the columns below, in any order, then a row per approval (`payment`) or cancel. Amounts are
integers in the currency's minor unit, signed as the money moves (a cancel's are negative), and `net` is
`amount - fee`. A file with any bad row is refused whole, naming the rows (never their values)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from gyeol.connectors.base import ReportRow
from gyeol.core.errors import DomainError
from gyeol.core.money import EXPONENTS, MAX_AMOUNT

COLUMNS = ("transaction_id", "order_id", "type", "amount", "fee", "vat", "net", "currency", "sold_date",
           "payout_date")
PG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_INTEGER = re.compile(r"^-?[0-9]{1,16}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_ERRORS = 20


def _refused(message: str, problems: list[dict[str, Any]] | None = None) -> DomainError:
    return DomainError("validation", "INVALID_REPORT", message, details={"errors": problems or []})


def _integer(value: str) -> int | None:
    return int(value) if _INTEGER.match(value) and abs(int(value)) <= MAX_AMOUNT else None


def _date(value: str) -> date | None:
    if not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _row(cells: dict[str, str]) -> tuple[ReportRow | None, str | None, str | None]:
    """The row, or the column it is wrong in and why."""
    tx, order, kind = cells["transaction_id"], cells["order_id"], cells["type"]
    if not tx or len(tx) > 200 or not tx.isprintable():
        return None, "transaction_id", "1 to 200 printable characters"
    if len(order) > 64 or not order.isprintable():
        return None, "order_id", "at most 64 printable characters"
    if kind not in ("payment", "cancel"):
        return None, "type", "payment or cancel"
    money = {}
    for name in ("amount", "fee", "vat", "net"):
        money[name] = _integer(cells[name])
        if money[name] is None:
            return None, name, "an integer in the currency's minor unit"
    amount, fee, vat, net = money["amount"], money["fee"], money["vat"], money["net"]
    assert amount is not None and fee is not None and vat is not None and net is not None
    if (kind == "payment") != (amount > 0) or amount == 0:
        return None, "amount", "positive on a payment, negative on a cancel"
    if net != amount - fee:
        return None, "net", "amount - fee"
    if cells["currency"] not in EXPONENTS:
        return None, "currency", f"one of {', '.join(sorted(EXPONENTS))}"
    sold, payout = _date(cells["sold_date"]), _date(cells["payout_date"])
    if sold is None:
        return None, "sold_date", "a date, YYYY-MM-DD"
    if payout is None:
        return None, "payout_date", "a date, YYYY-MM-DD"
    return ReportRow(tx, "payment" if kind == "payment" else "cancel", amount, fee, vat, net, cells["currency"],
                     sold, payout, order), None, None


def parse(text: str) -> list[ReportRow]:
    """The report's rows; raises INVALID_REPORT for a file that is not one."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        if sorted(header) != sorted(COLUMNS):
            raise _refused(f"The first line names the columns {', '.join(COLUMNS)} (each once, in any order).")
        rows: list[ReportRow] = []
        problems: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(COLUMNS):
                problems.append({"line": line, "column": None, "expected": f"{len(COLUMNS)} values"})
            else:
                row, column, expected = _row({k: v.strip() for k, v in zip(header, cells, strict=True)})
                if row is None:
                    problems.append({"line": line, "column": column, "expected": expected})
                elif (row.type, row.transaction_id) in seen:
                    problems.append({"line": line, "column": "transaction_id", "expected": "each transaction once"})
                else:
                    seen.add((row.type, row.transaction_id))
                    rows.append(row)
            if len(problems) >= MAX_ERRORS:
                break
    except csv.Error:
        raise _refused("The file is not readable as CSV.") from None
    if problems:
        first = problems[0]
        where = f"line {first['line']}" + (f", column {first['column']}" if first["column"] else "")
        raise _refused(f"The report has bad rows ({where} first): nothing was imported.", problems)
    if not rows:
        raise _refused("The report has no rows.")
    return rows
