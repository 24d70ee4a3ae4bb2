"""every row of a merchant's data is of one mode, test or live: a livemode column on each table, from its parent

Payments and webhook endpoints had one; what hangs off them (attempts, accounts, refunds, settlements, orders,
deliveries, events) takes it from its parent row. Customers and saved payment methods are test rows: their only PG
was the sandbox, which live keys never reached.

Revision ID: 0010_livemode
Revises: 0007_key_recovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_livemode"
down_revision = "0007_key_recovery"
branch_labels = None
depends_on = None

# In the order they are filled: a table's parent is filled before it.
FILLS = {
    "payment_attempts": "(SELECT p.livemode FROM payments p WHERE p.id = payment_attempts.payment_id)",
    "payment_accounts": "(SELECT p.livemode FROM payments p WHERE p.id = payment_accounts.payment_id)",
    "refunds": "(SELECT p.livemode FROM payments p WHERE p.id = refunds.payment_id)",
    "settlements": "(SELECT p.livemode FROM payments p WHERE p.id = settlements.payment_id)",
    "orders": "EXISTS (SELECT 1 FROM payments p WHERE p.order_pk = orders.id AND p.livemode)",
    "customers": None,
    "payment_methods": None,
    "webhook_deliveries": "(SELECT e.livemode FROM webhook_endpoints e WHERE e.id = webhook_deliveries.endpoint_id)",
    # An event is of the object it tells of: a payment, attempt, refund, settlement or endpoint by its id, an order
    # (order.paid) by the merchant's orderId.
    "outbox_events": " OR ".join(
        [f"EXISTS (SELECT 1 FROM {t} x WHERE x.id = outbox_events.resource_id AND x.livemode)"
         for t in ("payments", "payment_attempts", "refunds", "settlements", "webhook_endpoints")]
        + ["EXISTS (SELECT 1 FROM orders x WHERE x.merchant_id = outbox_events.merchant_id"
           " AND x.order_id = outbox_events.resource_id AND x.livemode)"]),
}


def upgrade() -> None:
    for table, parent in FILLS.items():
        op.add_column(table, sa.Column("livemode", sa.Boolean(), nullable=False, server_default=sa.false()))
        if parent is not None:
            op.execute(f"UPDATE {table} SET livemode = {parent}")
        if op.get_context().dialect.name == "postgresql":
            # Every insert names the mode; SQLite cannot drop a default without rebuilding the table, and the
            # application never relies on it.
            op.alter_column(table, "livemode", server_default=None)


def downgrade() -> None:
    for table in reversed(FILLS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN livemode")
