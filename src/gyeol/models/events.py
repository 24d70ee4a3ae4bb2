from __future__ import annotations

import sqlalchemy as sa

from gyeol.db.types import UTCDateTime
from gyeol.models.base import created_at, metadata

# Written in the same transaction as the change it describes; a relay delivers it later.
outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.String(64), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    # Set by the relay once the event is fanned out to webhook deliveries and published to the broker.
    sa.Column("published_at", UTCDateTime(), nullable=True),
    created_at(),
    sa.Index("ix_outbox_events_unpublished", "published_at", "seq"),
)
# An attempt's `attempt.unresolved` alert is written once, however many reconcilers find the attempt at once.
_alert = outbox_events.c.type == "attempt.unresolved"
sa.Index("uq_outbox_events_attempt_alert", outbox_events.c.resource_id, unique=True, sqlite_where=_alert,
         postgresql_where=_alert)

# Inbound PG events, so that a duplicate delivery is a no-op.
inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)
