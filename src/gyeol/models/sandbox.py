"""The sandbox PG's own books: what it was asked to do, as a PG would keep them."""

from __future__ import annotations

import sqlalchemy as sa

from gyeol.models.base import Money, created_at, metadata, partial_index, updated_at

sandbox_tokens = sa.Table(
    "sandbox_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("brand", sa.String(20), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.Integer, nullable=False),
    sa.Column("exp_year", sa.Integer, nullable=False),
    # What the test card does when charged; the number itself is never kept.
    sa.Column("behavior", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    created_at(),
)

sandbox_charges = sa.Table(
    "sandbox_charges",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # The caller's reference (attempt or refund id): the PG-side idempotency key.
    sa.Column("reference", sa.String(64), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    # NULL for a payment approved at the PG before Gyeol heard of it (a paymentKey flow confirmed elsewhere).
    sa.Column("payment_id", sa.String(40), nullable=True, index=True),
    # Toss-style flows: the PG-side name of the payment, and its order.
    sa.Column("payment_key", sa.String(200), nullable=True),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # card | bank | virtual_account: a virtual account waits for its deposit, a card for 3-D Secure.
    sa.Column("method", sa.String(16), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("parent_id", sa.String(40), nullable=True),
    sa.Column("token", sa.String(80), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    created_at(),
    updated_at(),
)
partial_index(sandbox_charges, "ix_sandbox_charges_key", "merchant_id", "payment_key")
