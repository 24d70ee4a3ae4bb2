"""receipts, settlements, and paymentKey flows at the sandbox

Revision ID: 0002_kiosk_shop
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gyeol.db.types

revision = "0002_kiosk_shop"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("receipt_id", sa.String(length=40), nullable=True))
        batch.create_unique_constraint("uq_payments_receipt_id", ["receipt_id"])
    with op.batch_alter_table("sandbox_charges") as batch:
        batch.alter_column("payment_id", existing_type=sa.String(length=40), nullable=True)
        batch.add_column(sa.Column("payment_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
    op.create_index("ix_sandbox_charges_key", "sandbox_charges", ["merchant_id", "payment_key"])
    op.create_table(
        "settlements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("gross_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("net_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("payout_date", sa.Date(), nullable=False),
        sa.Column("paid_at", gyeol.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", gyeol.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("net_amount = gross_amount - fee_amount",
                           name=op.f("ck_settlements_net_is_gross_minus_fee")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_settlements_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_settlements_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
        sa.UniqueConstraint("source_id", name=op.f("uq_settlements_source_id")),
    )
    op.create_index("ix_settlements_merchant_payout", "settlements", ["merchant_id", "payout_date"])
    op.create_index(op.f("ix_settlements_payment_id"), "settlements", ["payment_id"])


def downgrade() -> None:
    op.drop_table("settlements")
    op.drop_index("ix_sandbox_charges_key", table_name="sandbox_charges")
    with op.batch_alter_table("sandbox_charges") as batch:
        batch.drop_column("order_id")
        batch.drop_column("payment_key")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint("uq_payments_receipt_id", type_="unique")
        batch.drop_column("receipt_id")
