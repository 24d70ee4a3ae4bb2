"""the merchant dashboard: staff accounts, their sessions, the sign-in throttle, the audit log, and the indexes of
the dashboard's lists and totals

Revision ID: 0015_dashboard
Revises: 0013_payment_channel (the ledger's 0014 when both are merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gyeol.db.types import UTCDateTime

revision = "0015_dashboard"
down_revision = "0014_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id", name="fk_staff_merchant_id_merchants"),
                  nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(400), nullable=True),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("recovery_codes", sa.JSON, nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role in ('owner', 'admin', 'viewer')", name="ck_staff_role"),
        sa.PrimaryKeyConstraint("id", name="pk_staff"),
        sa.UniqueConstraint("email", name="uq_staff_email"),
    )
    op.create_index("ix_staff_merchant_id", "staff", ["merchant_id"])
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff.id", name="fk_staff_sessions_staff_id_staff"),
                  nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_sessions"),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_signin_failures"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=True),
        sa.Column("staff_id", sa.String(40), nullable=True),
        sa.Column("staff_email", sa.String(254), nullable=True),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_merchant", "audit_log", ["merchant_id", "seq"])
    op.create_index("ix_payments_dashboard", "payments", ["merchant_id", "livemode", "created_at", "id"])
    op.create_index("ix_refunds_dashboard", "refunds", ["merchant_id", "livemode", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_refunds_dashboard", table_name="refunds")
    op.drop_index("ix_payments_dashboard", table_name="payments")
    op.drop_index("ix_audit_log_merchant", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("signin_failures")
    op.drop_index("ix_staff_sessions_staff_id", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_index("ix_staff_merchant_id", table_name="staff")
    op.drop_table("staff")
