from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("caller", sa.String(160), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    # A hash of the body only: the body may carry card data.
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.LargeBinary, nullable=True),
    sa.Column("response_headers", sa.JSON, nullable=True),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    created_at(),
)
