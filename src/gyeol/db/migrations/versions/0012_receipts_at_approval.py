"""a payment gets its receipt id where its approval is applied: payments approved before have one given now

The receipt id was minted after the approval, by the kiosk's confirm and the checkout's page, each in a
transaction of its own, so a payment that neither reached has none. It is now written by the transaction that
applies the PG's approval (or issues a virtual account), and nothing mints one later: every payment that took or
holds money, or waits for a deposit, is given one here. The id is random (a paymentKey can be guessed), so it is
made here with `secrets`, as the core makes it.

Revision ID: 0012_receipts_at_approval
Revises: 0010_livemode
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012_receipts_at_approval"
down_revision = "0010_livemode"
branch_labels = None
depends_on = None

WITHOUT = sa.text(
    "SELECT id FROM payments WHERE receipt_id IS NULL AND (authorized_amount > 0 OR id IN "
    "(SELECT payment_id FROM payment_accounts WHERE kind = 'virtual_account'))")
GIVE = sa.text("UPDATE payments SET receipt_id = :receipt_id WHERE id = :id AND receipt_id IS NULL")


def upgrade() -> None:
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(WITHOUT)]
    for start in range(0, len(ids), 1000):
        conn.execute(GIVE, [{"id": i, "receipt_id": "rcpt_" + secrets.token_urlsafe(18)}
                            for i in ids[start:start + 1000]])


def downgrade() -> None:
    pass  # a receipt id given here is as good as one minted by the old code
