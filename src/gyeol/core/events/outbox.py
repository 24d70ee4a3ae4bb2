"""Outbox rows: added in the same transaction as the change they describe, sent with its other held writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gyeol.core.clock import iso
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.ids import new_id
from gyeol.models import outbox_events


async def add(
    conn: Conn, *, merchant_id: str, type: str, obj: dict[str, Any], resource_id: str | None,
    now: datetime,
) -> str:
    event_id = new_id("evt")
    payload = {"id": event_id, "type": type, "createdAt": iso(now), "merchantId": merchant_id,
               "data": {"object": obj}}
    await sql.insert(conn, outbox_events, {"id": event_id, "merchant_id": merchant_id, "type": type,
                                        "resource_id": resource_id, "payload": payload, "created_at": now})
    return event_id
