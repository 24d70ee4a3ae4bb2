"""the default merchant is marked, not named: it can be renamed and stay the default

`gyeol serve` creates a merchant named `default` at its first start; requests that name no merchant (users'
tokens without `mid`, Toss's callback without a merchant id) are for it. They found it by its name, so renaming it
(`gyeol merchants update --name`) would have lost it. The merchant named `default` today is marked.

Revision ID: 0008_default_merchant
Revises: 0007_key_recovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_default_merchant"
down_revision = "0007_key_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE merchants SET is_default = (name = 'default')")


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("is_default")
