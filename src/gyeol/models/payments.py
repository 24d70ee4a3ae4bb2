from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import Money, created_at, metadata, partial_index, updated_at

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("order_pk", sa.String(40), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False, default=False),
    sa.Column("channel", sa.String(16), nullable=False),  # the API it was created through: payments.records.Channel
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("capture_method", sa.String(12), nullable=False),
    sa.Column("authorized_amount", Money, nullable=False, default=0),
    sa.Column("captured_amount", Money, nullable=False, default=0),
    sa.Column("refunded_amount", Money, nullable=False, default=0),
    # Reserved by refunds that are at the PG right now; released or moved to refunded after.
    sa.Column("refunding_amount", Money, nullable=False, default=0),
    # The one PG operation (authorize, capture, void) in flight; NULL when none.
    sa.Column("open_attempt_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("customer_id", sa.String(64), nullable=True),
    sa.Column("user_id", sa.String(128), nullable=True),
    sa.Column("payment_key", sa.String(200), nullable=True),
    sa.Column("payment_number", sa.String(40), nullable=True),
    sa.Column("method_type", sa.String(24), nullable=True),
    sa.Column("payment_method_id", sa.String(40), nullable=True),
    sa.Column("card_brand", sa.String(20), nullable=True),
    sa.Column("card_last4", sa.String(4), nullable=True),
    sa.Column("connector", sa.String(24), nullable=True),
    sa.Column("pg_transaction_id", sa.String(200), nullable=True),
    sa.Column("failure_reason", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("next_action_url", sa.String(1000), nullable=True),
    sa.Column("client_token", sa.String(80), nullable=False),
    sa.Column("return_url", sa.String(2000), nullable=True),
    sa.Column("cancel_url", sa.String(2000), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("authorized_at", UTCDateTime(), nullable=True),
    sa.Column("captured_at", UTCDateTime(), nullable=True),
    sa.Column("canceled_at", UTCDateTime(), nullable=True),
    # Random and unguessable (a paymentKey is the merchant's choice): the public receipt page's address.
    sa.Column("receipt_id", sa.String(40), nullable=True),
    created_at(),
    updated_at(),
    # A merchant's payments in one mode, newest first (keyset on created_at, id): the API's lists and the dashboard's.
    sa.Index("ix_payments_dashboard", "merchant_id", "livemode", "created_at", "id"),
    # The dashboard's list filtered by status, newest first: a status few payments have is found without reading
    # the others.
    sa.Index("ix_payments_status", "merchant_id", "livemode", "status", "created_at", "id"),
    # A payment looked up by its merchant's orderId (the dashboard's search, the kiosk's look-up by order).
    sa.Index("ix_payments_order", "merchant_id", "order_id"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(
        "refunded_amount >= 0 AND refunding_amount >= 0"
        " AND refunded_amount + refunding_amount <= captured_amount"
        " AND captured_amount <= authorized_amount AND authorized_amount <= amount",
        name="money_order",
    ),
)

# What a payment may lack (a paymentKey, a number, a receipt, a user) is indexed only where it is present: each
# payment would otherwise write an entry for its NULLs into every one of these indexes, a page each per commit.
partial_index(payments, "uq_payments_merchant_id_payment_key", "merchant_id", "payment_key", unique=True)
partial_index(payments, "uq_payments_merchant_id_payment_number", "merchant_id", "payment_number", unique=True)
partial_index(payments, "uq_payments_receipt_id", "receipt_id", unique=True)
partial_index(payments, "ix_payments_user", "merchant_id", "user_id", "created_at", present="user_id")
partial_index(payments, "ix_payments_customer", "merchant_id", "customer_id")

payment_attempts = sa.Table(
    "payment_attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    # started -> succeeded | failed | requires_action | unknown; unknown is resolved by the reconciler.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("connector", sa.String(24), nullable=False),
    sa.Column("method_type", sa.String(24), nullable=True),
    # The PG's token for the card (never a card number), needed to retry the same attempt.
    sa.Column("pg_token", sa.String(80), nullable=True),
    sa.Column("pg_transaction_id", sa.String(200), nullable=True),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_message", sa.String(500), nullable=True),
    sa.Column("next_check_at", UTCDateTime(), nullable=True),
    sa.Column("checks", sa.Integer, nullable=False, default=0),
    created_at(),
    updated_at(),
    sa.Index("ix_payment_attempts_open", "status", "next_check_at"),
)
