"""What the dashboard's home adds up, kept as it happens rather than summed on each visit."""

from __future__ import annotations

import sqlalchemy as sa

from gyeol.models.base import Money, metadata

# A merchant's payments of one mode, created on one Korean calendar day, by method (empty before one is chosen),
# channel and currency, as they stand now: how many, how many succeeded (authorized or charged), how many failed,
# and the volume captured; and the refunds that went through, by the day they were made. Each row is changed in the
# transaction that changes a payment or a refund (core.payments.totals), by adding to it: its figures are sums. A
# day's figures are spread over `slot`s (by the payment's or the refund's id), so concurrent payments of one
# merchant do not all wait on one row's lock; a reader adds the slots up.
daily_totals = sa.Table(
    "daily_totals",
    metadata,
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("method", sa.String(24), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("slot", sa.SmallInteger, nullable=False),
    sa.Column("payments", sa.BigInteger, nullable=False),
    sa.Column("succeeded", sa.BigInteger, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("volume", Money, nullable=False),
    sa.Column("refunded", Money, nullable=False),
    sa.PrimaryKeyConstraint("merchant_id", "livemode", "day", "method", "channel", "currency", "slot"),
)
