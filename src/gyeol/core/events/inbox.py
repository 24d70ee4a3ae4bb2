"""The inbox of what PGs tell Gyeol: one row per (source, event id), so a redelivered event is recognized."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import inbound_events

EVENT_ID_MAX = 200  # the column's width; longer ids are cut, as every PG's ids are far shorter
SEEN = sa.select(inbound_events.c.event_id).where(inbound_events.c.source == sa.bindparam("source"),
                                                  inbound_events.c.event_id == sa.bindparam("event_id"))


async def accept(conn: Conn, source: str, event_id: str, now: datetime) -> bool:
    """Record the event in the caller's transaction; False when it was recorded before (a redelivery)."""
    return await sql.insert_new(conn, inbound_events, {"source": source, "event_id": event_id[:EVENT_ID_MAX],
                                                        "received_at": now})


async def seen(conn: Conn, source: str, event_id: str) -> bool:
    return await sql.one(conn, SEEN, {"source": source, "event_id": event_id[:EVENT_ID_MAX]}) is not None
