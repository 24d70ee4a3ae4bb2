"""the payments' optional keys (paymentKey, number, receipt id, user) and the sandbox's paymentKey: partial indexes

A payment without one of these still wrote an entry for its NULL into each unique constraint's index: a page
each, at every commit that inserts a payment. A partial index holds only the rows that have the key; uniqueness
among them is the same, and a lookup by the key uses it.

Revision ID: 0006_partial_keys
Revises: 0005_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_partial_keys"
down_revision = "0005_events"
branch_labels = None
depends_on = None

# name, table, columns, the column whose presence puts a row in the index, unique
INDEXES = (
    ("uq_payments_merchant_id_payment_key", "payments", ("merchant_id", "payment_key"), "payment_key", True),
    ("uq_payments_merchant_id_payment_number", "payments", ("merchant_id", "payment_number"), "payment_number", True),
    ("uq_payments_receipt_id", "payments", ("receipt_id",), "receipt_id", True),
    ("ix_payments_user", "payments", ("merchant_id", "user_id", "created_at"), "user_id", False),
    ("ix_sandbox_charges_key", "sandbox_charges", ("merchant_id", "payment_key"), "payment_key", False),
)


def upgrade() -> None:
    # SQLite keeps a table's unique constraints in its CREATE TABLE: batch mode rebuilds the table without them.
    with op.batch_alter_table("payments") as batch:
        for name, table, _columns, _present, unique in INDEXES:
            if table == "payments" and unique:
                batch.drop_constraint(name, type_="unique")
    op.drop_index("ix_payments_user", table_name="payments")
    op.drop_index("ix_sandbox_charges_key", table_name="sandbox_charges")
    for name, table, columns, present, unique in INDEXES:
        where = sa.text(f"{present} IS NOT NULL")
        op.create_index(name, table, list(columns), unique=unique, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, *_ in INDEXES:
        op.drop_index(name, table_name=table)
    op.create_index("ix_payments_user", "payments", ["merchant_id", "user_id", "created_at"])
    op.create_index("ix_sandbox_charges_key", "sandbox_charges", ["merchant_id", "payment_key"])
    with op.batch_alter_table("payments") as batch:
        for name, table, columns, _present, unique in INDEXES:
            if table == "payments" and unique:
                batch.create_unique_constraint(name, list(columns))
