"""Outbox rows: added in the same transaction as the change they describe, sent with its other held writes.

An event's `data.object` is a record as the native API shows it (Stripe's events carry API objects). The core
builds no face's JSON: the renderer is given at start-up (`use_renderer`, from `services.build_services`). An
object that is a dict already (an attempt alert, tests' events) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gyeol.core.clock import iso
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.ids import new_id
from gyeol.models import outbox_events

Renderer = Callable[[object], dict[str, Any]]


def _no_renderer(obj: object) -> dict[str, Any]:
    raise RuntimeError("no event renderer: services.build_services gives the outbox one (outbox.use_renderer)")


_render: Renderer = _no_renderer


def use_renderer(render: Renderer) -> None:
    """How records become events' objects, for the whole process."""
    global _render
    _render = render


async def add(
    conn: Conn, *, merchant_id: str, type: str, obj: object, resource_id: str | None, now: datetime,
) -> str:
    event_id = new_id("evt")
    payload = {"id": event_id, "type": type, "createdAt": iso(now), "merchantId": merchant_id,
               "data": {"object": obj if isinstance(obj, dict) else _render(obj)}}
    await sql.insert(conn, outbox_events, {"id": event_id, "merchant_id": merchant_id, "type": type,
                                        "resource_id": resource_id, "payload": payload, "created_at": now})
    return event_id
