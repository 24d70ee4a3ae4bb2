from __future__ import annotations

import sqlalchemy as sa

from gyeol.models.base import Money, created_at, metadata, updated_at

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False, index=True),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # pending (at the PG or unknown) -> succeeded | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    # A refund made by cancelling the payment: when it completes the payment is `canceled`, not `refunded`.
    sa.Column("is_cancel", sa.Boolean, nullable=False, default=False),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("pg_transaction_id", sa.String(200), nullable=True),
    sa.Column("failure_reason", sa.String(64), nullable=True),
    sa.Column("connector", sa.String(24), nullable=False),
    created_at(),
    updated_at(),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    # The dashboard's totals: a merchant's refunds in one mode over a window of days.
    sa.Index("ix_refunds_dashboard", "merchant_id", "livemode", "created_at"),
)
