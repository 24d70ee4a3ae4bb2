"""`gyeol ledger export`: the ledger's transfers as a Beancount 3 file or as CSV (docs/ledger.md).

Beancount shows what the merchants' books hold: posted transfers only (an uncaptured hold, and the release of one,
moved no money), dated by their day in Korea, in each currency's major unit (12.34 USD, 10000 KRW). Each account
is `<Assets|Income|Expenses>:<Test|Live>:<merchant>:<account>`. The CSV has a row for every transfer, holds and
voids included, in minor units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from gyeol.core.clock import KST, iso
from gyeol.core.ledger.accounts import FEES, PAID_OUT, PG_BALANCE, REFUNDS, SALES
from gyeol.core.ledger.book import POSTED
from gyeol.core.ledger.records import Transfer
from gyeol.core.money import exponent

Accounts = dict[str, tuple[str, bool, str, str]]
# Where each kind of account sits in Beancount's five roots, and its name there.
NAMES = {PG_BALANCE: ("Assets", "PgBalance"), PAID_OUT: ("Assets", "PaidOut"), SALES: ("Income", "Sales"),
         REFUNDS: ("Income", "Refunds"), FEES: ("Expenses", "PgFees")}
CSV_FIELDS = ["id", "created_at", "merchant_id", "livemode", "currency", "amount", "debit_account_id",
              "credit_account_id", "code", "phase", "held_id", "payment_id", "source_id", "pg_transaction_id",
              "available_on"]


def _account(accounts: Accounts, account_id: str) -> str:
    merchant_id, livemode, _, kind = accounts[account_id]
    root, leaf = NAMES[kind]
    # A Beancount account's parts start with a capital letter and hold letters, digits and dashes only.
    merchant = "M-" + "".join(c if c.isalnum() else "-" for c in merchant_id)
    return f"{root}:{'Live' if livemode else 'Test'}:{merchant}:{leaf}"


def _major(amount: int, currency: str) -> str:
    exp = exponent(currency)
    return f"{Decimal(amount).scaleb(-exp):.{exp}f}"


def _day(t: Transfer) -> date:
    return t.created_at.astimezone(KST).date()


def beancount(accounts: Accounts, transfers: Iterable[Transfer]) -> str:
    posted = sorted((t for t in transfers if t.phase in POSTED), key=lambda t: (_day(t), t.seq))
    out = ['option "title" "Gyeol ledger"', 'option "operating_currency" "KRW"', ""]
    used: dict[str, set[str]] = {}
    for t in posted:
        for account_id in (t.debit_account_id, t.credit_account_id):
            used.setdefault(_account(accounts, account_id), set()).add(t.currency)
    opened = _day(posted[0]).isoformat() if posted else "1970-01-01"
    out += [f"{opened} open {name} {','.join(sorted(currencies))}" for name, currencies in sorted(used.items())]
    for t in posted:
        amount = _major(t.amount, t.currency)
        out += ["", f'{_day(t).isoformat()} * "{t.code}" "{t.source_id}"', f'  transfer: "{t.id}"',
                f"  {_account(accounts, t.debit_account_id)}  {amount} {t.currency}",
                f"  {_account(accounts, t.credit_account_id)}  -{amount} {t.currency}"]
    return "\n".join(out) + "\n"


def csv_text(transfers: Iterable[Transfer]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for t in transfers:
        row = {f: getattr(t, f) for f in CSV_FIELDS}
        row["created_at"] = iso(t.created_at)
        row["livemode"] = "true" if t.livemode else "false"
        row["available_on"] = t.available_on.isoformat() if t.available_on else ""
        writer.writerow(row)
    return out.getvalue()
