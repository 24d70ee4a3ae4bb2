from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata, updated_at

# The bank account behind a payment: the buyer's account of a bank transfer, or the virtual account issued for
# one. Account numbers are encrypted at rest (gyeol.crypto); `last4` is what screens and logs may show.
payment_accounts = sa.Table(
    "payment_accounts",
    metadata,
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # bank | virtual_account
    sa.Column("bank_code", sa.String(16), nullable=False),
    sa.Column("account_number", sa.String(400), nullable=True),
    sa.Column("last4", sa.String(4), nullable=True),
    sa.Column("holder_name", sa.String(400), nullable=True),
    # Virtual accounts: waiting -> deposited | expired.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=True),
    sa.Column("deposited_at", UTCDateTime(), nullable=True),
    created_at(),
    updated_at(),
    sa.Index("ix_payment_accounts_due", "status", "due_at"),
)

# Per-merchant sequences, such as the shopping face's PAY-YYYYMMDD-NNN: one row per (merchant, name), bumped
# with an atomic upsert inside the transaction that uses the number.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
