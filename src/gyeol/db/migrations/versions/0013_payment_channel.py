"""a payment's `face` is its `channel`, named in the core's terms: the API it was created through

The column held the name of the face a payment was created on (native, kiosk, shop, shopping), a choice of the
faces that the core read to decide how a payment is charged. It is now `core.payments.records.Channel`: Gyeol's API,
Toss's payment API (the buyer authenticated in the window, the merchant's confirm charges), Toss's confirm of a
payment its own window made, and the shopping API. The column keeps its place.

Revision ID: 0013_payment_channel
Revises: 0012_receipts_at_approval
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_payment_channel"
down_revision = "0012_receipts_at_approval"
branch_labels = None
depends_on = None

FACE_CHANNEL = {"native": "api", "kiosk": "toss_payment", "shop": "toss_confirm", "shopping": "shopping"}
SET = "UPDATE payments SET {column} = :new WHERE {column} = :old"


def upgrade() -> None:
    op.execute("ALTER TABLE payments RENAME COLUMN face TO channel")
    op.get_bind().execute(sa.text(SET.format(column="channel")),
                          [{"old": old, "new": new} for old, new in FACE_CHANNEL.items()])


def downgrade() -> None:
    op.get_bind().execute(sa.text(SET.format(column="channel")),
                          [{"old": new, "new": old} for old, new in FACE_CHANNEL.items()])
    op.execute("ALTER TABLE payments RENAME COLUMN channel TO face")
