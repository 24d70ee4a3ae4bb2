from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata

merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    # The merchant created as `default` (by `gyeol serve`): requests that name no merchant are for it, whatever its
    # name now.
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    # Per-merchant settings (fees, partial cancel, PG and JWT configuration); secrets inside are encrypted.
    sa.Column("settings", sa.JSON, nullable=False, default=dict),
    created_at(),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("mode", sa.String(8), nullable=False),
    # Only a keyed hash (HMAC-SHA256) of the secret is kept; the prefix is for display.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(24), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    created_at(),
    sa.CheckConstraint("mode in ('test', 'live')", name="mode"),
)
