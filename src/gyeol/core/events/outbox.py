"""Outbox rows: added in the same transaction as the change they describe.

An event's `data.object` is a record as the native API shows it (Stripe's events carry API objects). The core
builds no face's JSON: the renderer is given at start-up (`use_renderer`, from `services.build_services`). An
object that is a dict already (tests' events) is kept as it is.

An event is of its object's merchant and mode: every record the core emits carries its own `livemode` (a dict, its
"livemode" key), so the mode is read from the object, never given beside it to disagree with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gyeol.core.clock import iso
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.ids import new_id
from gyeol.models import outbox_events

Renderer = Callable[[object], dict[str, Any]]


class Moded(Protocol):
    """What an event tells of: a record of one merchant's, in one mode."""

    @property
    def livemode(self) -> bool: ...


def _no_renderer(obj: object) -> dict[str, Any]:
    raise RuntimeError("no event renderer: services.build_services gives the outbox one (outbox.use_renderer)")


_render: Renderer = _no_renderer


def use_renderer(render: Renderer) -> None:
    """How records become events' objects, for the whole process."""
    global _render
    _render = render


@dataclass(frozen=True, slots=True)
class Event:
    merchant_id: str
    type: str
    obj: Moded | dict[str, Any]
    resource_id: str | None

    @property
    def livemode(self) -> bool:
        return bool(self.obj["livemode"] if isinstance(self.obj, dict) else self.obj.livemode)


async def add(
    conn: Conn, *, merchant_id: str, type: str, obj: Moded | dict[str, Any], resource_id: str | None, now: datetime,
) -> str:
    return (await add_all(conn, [Event(merchant_id, type, obj, resource_id)], now))[0]


async def add_all(conn: Conn, events: list[Event], now: datetime) -> list[str]:
    """Add the events of one change, in their order, with one INSERT (their `seq` follows the VALUES' order)."""
    write = inserting(events, now)
    await sql.write_all(conn, [write])
    return [str(r["id"]) for r in write.rows]


def inserting(events: list[Event], now: datetime) -> sql.Insert:
    """`add_all` as a write to make with the change's others (`sql.write_all`)."""
    return sql.Insert(outbox_events, [_row(e, now) for e in events])


async def add_once(conn: Conn, event: Event, now: datetime) -> bool:
    """Add an event that a unique key of the outbox allows once (an attempt's `attempt.unresolved`); whether it
    was added. A copy that is there already, or being added by a transaction not yet committed, is not added."""
    return await sql.insert_new(conn, outbox_events, _row(event, now))


def _row(e: Event, now: datetime) -> dict[str, Any]:
    event_id = new_id("evt")
    payload = {"id": event_id, "type": e.type, "createdAt": iso(now), "merchantId": e.merchant_id,
               "data": {"object": e.obj if isinstance(e.obj, dict) else _render(e.obj)}}
    return {"id": event_id, "merchant_id": e.merchant_id, "livemode": e.livemode, "type": e.type,
            "resource_id": e.resource_id, "payload": payload, "created_at": now}
