"""The chart of accounts (docs/ledger.md): five accounts per merchant, mode and currency, opened with the merchant.

An account's id is made from what it is (`account_id`), so a money movement names its accounts without reading
them, and its transfers ride in the writes of the change they book. The database's foreign keys refuse a transfer
to an account that is not of the transfer's merchant, currency and mode.
"""

from __future__ import annotations

from datetime import datetime

from gyeol.core.money import EXPONENTS
from gyeol.db import sql
from gyeol.models import ledger_accounts

# What the PG owes the merchant (asset): captures and deposits in, refunds, fees and payouts out. Its posted
# balance is the merchant's balance: pending until the payout date, then available until paid out.
PG_BALANCE = "pg_balance"
SALES = "sales"  # income: what buyers paid (gross)
REFUNDS = "refunds"  # contra-income: what was given back to buyers
FEES = "fees"  # expense: the PG's fees, less the part returned with refunds
PAID_OUT = "paid_out"  # asset: what the PG paid into the merchant's bank account
KINDS = (PG_BALANCE, SALES, REFUNDS, FEES, PAID_OUT)


def account_id(merchant_id: str, livemode: bool, currency: str, kind: str) -> str:
    return f"{merchant_id}.{'live' if livemode else 'test'}.{currency}.{kind}"


def opening(merchant_id: str, now: datetime) -> sql.Insert:
    """A new merchant's accounts: every kind, in every currency Gyeol takes, in both modes. A currency added to
    `money.EXPONENTS` has its accounts opened by a migration, for the merchants there are."""
    rows = [{"id": account_id(merchant_id, live, currency, kind), "merchant_id": merchant_id, "livemode": live,
             "currency": currency, "kind": kind, "created_at": now}
            for live in (False, True) for currency in sorted(EXPONENTS) for kind in KINDS]
    return sql.Insert(ledger_accounts, rows)
