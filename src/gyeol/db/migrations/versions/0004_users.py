"""users' payments: bank and virtual accounts, per-merchant counters, the sandbox's payment method

Revision ID: 0004_users
Revises: 0002_kiosk_shop
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gyeol.db.types

revision = "0004_users"
down_revision = "0002_kiosk_shop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_accounts",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("account_number", sa.String(length=400), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("holder_name", sa.String(length=400), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", gyeol.db.types.UTCDateTime(), nullable=True),
        sa.Column("deposited_at", gyeol.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", gyeol.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", gyeol.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_payment_accounts_payment_id_payments")),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payment_accounts")),
    )
    op.create_index("ix_payment_accounts_due", "payment_accounts", ["status", "due_at"])
    op.create_table(
        "counters",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "name", name=op.f("pk_counters")),
    )
    with op.batch_alter_table("sandbox_charges") as batch:
        batch.add_column(sa.Column("method", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_charges") as batch:
        batch.drop_column("method")
    op.drop_table("counters")
    op.drop_index("ix_payment_accounts_due", table_name="payment_accounts")
    op.drop_table("payment_accounts")
