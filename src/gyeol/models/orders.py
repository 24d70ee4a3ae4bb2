from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import Money, created_at, metadata, updated_at

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("paid_amount", Money, nullable=False, default=0),
    sa.Column("refunded_amount", Money, nullable=False, default=0),
    sa.Column("customer_id", sa.String(64), nullable=True),
    sa.Column("user_id", sa.String(128), nullable=True),
    sa.Column("order_name", sa.String(200), nullable=True),
    sa.Column("items", sa.JSON, nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("payment_key", sa.String(200), nullable=True),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    created_at(),
    updated_at(),
    sa.UniqueConstraint("merchant_id", "order_id"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("paid_amount >= 0 AND paid_amount <= amount", name="paid_le_amount"),
    sa.CheckConstraint("refunded_amount >= 0 AND refunded_amount <= paid_amount", name="refunded_le_paid"),
)
