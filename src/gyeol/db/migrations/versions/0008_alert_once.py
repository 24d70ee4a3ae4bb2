"""an attempt's `attempt.unresolved` alert is one row: a unique key on the alert's attempt

Two reconcilers (two workers on PostgreSQL) could both find an attempt without its alert and both add one. The
unique key makes the second insert a no-op. Alerts that such a race wrote twice are kept once, the first, before
the key is made; the second's webhook deliveries go with it.

Revision ID: 0008_alert_once
Revises: 0007_key_recovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_alert_once"
down_revision = "0007_key_recovery"
branch_labels = None
depends_on = None

ALERT = "type = 'attempt.unresolved'"
LATER_COPIES = (f"SELECT later.id FROM outbox_events later WHERE later.{ALERT} AND EXISTS (SELECT 1 FROM "
                f"outbox_events first WHERE first.{ALERT} AND first.resource_id = later.resource_id "
                "AND first.seq < later.seq)")


def upgrade() -> None:
    op.execute(f"DELETE FROM webhook_deliveries WHERE event_id IN ({LATER_COPIES})")
    op.execute(f"DELETE FROM outbox_events WHERE id IN ({LATER_COPIES})")
    op.create_index("uq_outbox_events_attempt_alert", "outbox_events", ["resource_id"], unique=True,
                    sqlite_where=sa.text(ALERT), postgresql_where=sa.text(ALERT))


def downgrade() -> None:
    op.drop_index("uq_outbox_events_attempt_alert", table_name="outbox_events")
