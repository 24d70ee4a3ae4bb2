from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import Money, created_at, metadata

# One row per approval (positive) and one per cancel or refund (a negative adjustment). `source_id` is what the
# row settles (the payment for an approval, the refund for an adjustment), unique so a retry never books twice.
settlements = sa.Table(
    "settlements",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False, index=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("method", sa.String(24), nullable=False),
    sa.Column("gross_amount", Money, nullable=False),
    sa.Column("fee_amount", Money, nullable=False),
    sa.Column("net_amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("payout_date", sa.Date, nullable=False),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    # The payout that paid it (`core.ledger.payouts`): one per merchant, mode and currency at each pass.
    sa.Column("payout_id", sa.String(40), nullable=True),
    created_at(),
    sa.Index("ix_settlements_merchant_payout", "merchant_id", "payout_date"),
    # A reconciliation reads a merchant's settlements by the day they were booked (the sale's day).
    sa.Index("ix_settlements_merchant_created", "merchant_id", "created_at"),
    sa.CheckConstraint("net_amount = gross_amount - fee_amount", name="net_is_gross_minus_fee"),
)
