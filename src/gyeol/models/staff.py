"""A merchant's staff: their accounts, their dashboard sessions, the sign-in throttle and the audit log."""

from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata, updated_at

# One account of one merchant. The e-mail is the sign-in name, so it is unique across merchants; the password is
# kept as an argon2 hash, the TOTP secret encrypted (gyeol.crypto) and the recovery codes as hashes.
staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("role", sa.String(8), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("totp_secret", sa.String(400), nullable=True),
    sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("recovery_codes", sa.JSON, nullable=False, default=list),
    sa.Column("disabled_at", UTCDateTime(), nullable=True),
    created_at(),
    updated_at(),
    sa.CheckConstraint("role in ('owner', 'admin', 'viewer')", name="role"),
)

# A signed-in browser. The cookie holds a random token; only its SHA-256 is kept, so the table cannot be replayed.
# `stage` is `second_factor` between a right password and the TOTP code, `signed_in` after.
staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff.id"), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    created_at(),
)

# Failed sign-ins per account (the e-mail typed, whether or not it exists) and per client address.
signin_failures = sa.Table(
    "signin_failures",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
)

# Every change made by staff: who, what, when and from where. Rows are only ever inserted.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=True),
    sa.Column("staff_id", sa.String(40), nullable=True),
    sa.Column("staff_email", sa.String(254), nullable=True),
    sa.Column("action", sa.String(48), nullable=False),
    sa.Column("target", sa.String(200), nullable=True),
    sa.Column("details", sa.JSON, nullable=False, default=dict),
    sa.Column("address", sa.String(64), nullable=True),
    created_at(),
    sa.Index("ix_audit_log_merchant", "merchant_id", "seq"),
)
