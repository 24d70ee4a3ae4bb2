"""reconciliation: runs, their items, resolutions, imported report rows; settlements by the day they were booked

A run matches a PG's settlement report for a range of sale days against Gyeol's settlements, which it reads by
merchant and booking time (`ix_settlements_merchant_created`).

Revision ID: 0016_reconciliation
Revises: 0013_payment_channel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gyeol.db.types

revision = "0016_reconciliation"
down_revision = "0015_dashboard"
branch_labels = None
depends_on = None

T = gyeol.db.types.UTCDateTime
Money = sa.BigInteger


def upgrade() -> None:
    op.create_index("ix_settlements_merchant_created", "settlements", ["merchant_id", "created_at"])
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("pg", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("gyeol_rows", sa.Integer(), nullable=False),
        sa.Column("report_rows", sa.Integer(), nullable=False),
        sa.Column("expected_until", sa.Date(), nullable=True),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_reconciliation_runs_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint("merchant_id", "livemode", "pg", "source", "date_from", "date_to",
                            name="uq_reconciliation_runs_range"),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("transaction_id", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("settlement_id", sa.String(length=40), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("sold_date", sa.Date(), nullable=False),
        sa.Column("gyeol_amount", Money(), nullable=True),
        sa.Column("gyeol_fee", Money(), nullable=True),
        sa.Column("gyeol_currency", sa.String(length=3), nullable=True),
        sa.Column("gyeol_payout_date", sa.Date(), nullable=True),
        sa.Column("pg_amount", Money(), nullable=True),
        sa.Column("pg_fee", Money(), nullable=True),
        sa.Column("pg_currency", sa.String(length=3), nullable=True),
        sa.Column("pg_payout_date", sa.Date(), nullable=True),
        sa.Column("created_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["reconciliation_runs.id"],
                                name=op.f("fk_reconciliation_items_run_id_reconciliation_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
    )
    op.create_index(op.f("ix_reconciliation_items_run_id"), "reconciliation_items", ["run_id"])
    op.create_index("ix_reconciliation_items_merchant_state", "reconciliation_items", ["merchant_id", "state"])
    op.create_table(
        "reconciliation_resolutions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_resolutions")),
        sa.UniqueConstraint("item_id", "state", name="uq_reconciliation_resolutions_item_state"),
    )
    op.create_table(
        "reconciliation_report_rows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("import_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("pg", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("transaction_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("vat", Money(), nullable=False),
        sa.Column("net", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sold_date", sa.Date(), nullable=False),
        sa.Column("payout_date", sa.Date(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.CheckConstraint("net = amount - fee",
                           name=op.f("ck_reconciliation_report_rows_net_is_amount_less_fee")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_report_rows")),
        sa.UniqueConstraint("merchant_id", "livemode", "pg", "type", "transaction_id",
                            name="uq_reconciliation_report_rows_transaction"),
    )
    op.create_index("ix_reconciliation_report_rows_sold", "reconciliation_report_rows",
                    ["merchant_id", "livemode", "pg", "sold_date"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_report_rows_sold", table_name="reconciliation_report_rows")
    op.drop_table("reconciliation_report_rows")
    op.drop_table("reconciliation_resolutions")
    op.drop_index("ix_reconciliation_items_merchant_state", table_name="reconciliation_items")
    op.drop_index(op.f("ix_reconciliation_items_run_id"), table_name="reconciliation_items")
    op.drop_table("reconciliation_items")
    op.drop_table("reconciliation_runs")
    op.drop_index("ix_settlements_merchant_created", table_name="settlements")
