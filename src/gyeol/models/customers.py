from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    created_at(),
    sa.UniqueConstraint("merchant_id", "customer_id"),
)

payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("customer_pk", sa.String(40), sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("type", sa.String(16), nullable=False),
    # The PG's token: never a card number.
    sa.Column("pg_token", sa.String(80), nullable=False),
    sa.Column("connector", sa.String(24), nullable=False),
    sa.Column("brand", sa.String(20), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.Integer, nullable=False),
    sa.Column("exp_year", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=True),
    sa.Column("billing_details", sa.JSON, nullable=True),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    created_at(),
)
