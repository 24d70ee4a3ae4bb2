"""idempotency keys name the process that holds them and what their work created

Revision ID: 0007_key_recovery
Revises: 0006_partial_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_key_recovery"
down_revision = "0006_partial_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("holder", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resource_type", sa.String(16), nullable=True))
        batch.add_column(sa.Column("resource_id", sa.String(64), nullable=True))
    op.create_index("ix_idempotency_keys_holder", "idempotency_keys", ["holder"],
                    sqlite_where=sa.text("holder IS NOT NULL"), postgresql_where=sa.text("holder IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_holder", table_name="idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("resource_id")
        batch.drop_column("resource_type")
        batch.drop_column("holder")
