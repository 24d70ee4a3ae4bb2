from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata, updated_at

# A merchant's webhook endpoint. Secrets are encrypted at rest; after a rotation the previous secret keeps
# signing beside the new one until `previous_secret_expires_at`.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("secret", sa.String(400), nullable=False),
    sa.Column("previous_secret", sa.String(400), nullable=True),
    sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    # Since when every delivery has failed (NULL after any success); 5 days of it disables the endpoint.
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.Column("disabled_reason", sa.String(64), nullable=True),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    created_at(),
    updated_at(),
)

# One event to one endpoint: pending -> succeeded | dead. `next_attempt_at` is also the claim: a worker that
# takes a delivery pushes it forward by a lease, so a crashed worker's deliveries come back by themselves.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("last_response_excerpt", sa.String(500), nullable=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    created_at(),
    updated_at(),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    sa.Index("ix_webhook_deliveries_event", "event_id"),
)

# Singleton jobs (the outbox relay publishes in order, so one process at a time): a lease per job name.
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
