"""the dashboard's daily totals, kept with each payment and refund (filled here from those there are), and the
indexes of the payments list's filters

Revision ID: 0017_daily_totals
Revises: 0015_dashboard
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_daily_totals"
down_revision = "0016_reconciliation"
branch_labels = None
depends_on = None

# What core.payments.totals adds up as it happens, summed from the rows at once, all in slot 0: a payment counts on
# its Korean creation day as succeeded while it holds an authorization, as failed while it is failed, with what it
# captured; a refund that went through, on the day it was made.
BACKFILL = """
INSERT INTO daily_totals (merchant_id, livemode, day, method, channel, currency, slot, payments, succeeded, failed,
                          volume, refunded)
SELECT merchant_id, livemode, day, method, channel, currency, 0, SUM(payments), SUM(succeeded), SUM(failed),
       SUM(volume), SUM(refunded)
FROM (
    SELECT p.merchant_id, p.livemode, {payment_day} AS day, COALESCE(p.method_type, '') AS method, p.channel,
           p.currency, 1 AS payments, CASE WHEN p.authorized_amount > 0 THEN 1 ELSE 0 END AS succeeded,
           CASE WHEN p.status = 'failed' AND p.authorized_amount = 0 THEN 1 ELSE 0 END AS failed,
           p.captured_amount AS volume, 0 AS refunded
    FROM payments p
    UNION ALL
    SELECT p.merchant_id, p.livemode, {refund_day}, COALESCE(p.method_type, ''), p.channel, p.currency, 0, 0, 0, 0,
           r.amount
    FROM refunds r JOIN payments p ON p.id = r.payment_id
    WHERE r.status = 'succeeded'
) AS counted
GROUP BY merchant_id, livemode, day, method, channel, currency
"""


def _day(column: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(timezone('Asia/Seoul', {column}) AS DATE)"
    return f"date({column}, '+9 hours')"


def upgrade() -> None:
    op.create_table(
        "daily_totals",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("slot", sa.SmallInteger, nullable=False),
        sa.Column("payments", sa.BigInteger, nullable=False),
        sa.Column("succeeded", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("volume", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "livemode", "day", "method", "channel", "currency", "slot",
                                name="pk_daily_totals"),
    )
    op.execute(BACKFILL.format(payment_day=_day("p.created_at"), refund_day=_day("r.created_at")))
    # The payments list's filters and search; (merchant_id, created_at) is ix_payments_dashboard's prefix but for
    # the mode, which every list names.
    op.create_index("ix_payments_status", "payments", ["merchant_id", "livemode", "status", "created_at", "id"])
    op.create_index("ix_payments_order", "payments", ["merchant_id", "order_id"])
    present = sa.text("customer_id IS NOT NULL")
    op.create_index("ix_payments_customer", "payments", ["merchant_id", "customer_id"], sqlite_where=present,
                    postgresql_where=present)
    op.drop_index("ix_payments_merchant_created", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_merchant_created", "payments", ["merchant_id", "created_at"])
    op.drop_index("ix_payments_customer", table_name="payments")
    op.drop_index("ix_payments_order", table_name="payments")
    op.drop_index("ix_payments_status", table_name="payments")
    op.drop_table("daily_totals")
