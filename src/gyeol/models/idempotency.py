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
    # The process whose request holds the key (core.processes): a key whose holder is gone is resumed at once.
    sa.Column("holder", sa.String(64), nullable=True),
    # The recovery point: what the key's work created, written in the transaction that created it, so that a
    # retry resumes that work instead of repeating it.
    sa.Column("resource_type", sa.String(16), nullable=True),
    sa.Column("resource_id", sa.String(64), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    created_at(),
    # Only keys in flight have a holder: the index that finds a crashed process's keys stays that small.
    sa.Index("ix_idempotency_keys_holder", "holder", sqlite_where=sa.text("holder IS NOT NULL"),
             postgresql_where=sa.text("holder IS NOT NULL")),
)
