"""SQL for merchants' webhook endpoints, their deliveries, and the events they carry (read from the outbox).

A delivery is claimed by pushing its `next_attempt_at` forward by a lease: `FOR UPDATE SKIP LOCKED` on PostgreSQL
lets workers claim side by side, SQLite's write lock takes them in turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.events.records import Event
from gyeol.core.pagination import Page, paginate
from gyeol.core.records import row_of
from gyeol.core.webhooks.records import WebhookDelivery, WebhookEndpoint
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import outbox_events, webhook_deliveries, webhook_endpoints

Row = dict[str, Any]
ep, dl, ev = webhook_endpoints.c, webhook_deliveries.c, outbox_events.c

# --- endpoints ------------------------------------------------------------------------------------
ENDPOINT = sa.select(webhook_endpoints).where(ep.id == sa.bindparam("id"))
_MERCHANTS = sa.select(webhook_endpoints).where(ep.id == sa.bindparam("id"),
                                                ep.merchant_id == sa.bindparam("merchant_id"),
                                                ep.livemode == sa.bindparam("livemode"), ep.deleted_at.is_(None))
MERCHANTS, MERCHANTS_LOCKED = _MERCHANTS, _MERCHANTS.with_for_update()


def _endpoint(row: Row | None) -> WebhookEndpoint | None:
    return None if row is None else WebhookEndpoint(**row)


async def insert_endpoint(conn: Conn, e: WebhookEndpoint) -> None:
    await sql.insert(conn, webhook_endpoints, row_of(e))


async def get_endpoint(conn: Conn, caller: Caller, endpoint_id: str, *,
                       lock: bool = False) -> WebhookEndpoint | None:
    """The caller's endpoint (its merchant's, in its mode), unless deleted."""
    return _endpoint(await sql.one(conn, MERCHANTS_LOCKED if lock else MERCHANTS, {
        "id": endpoint_id, "merchant_id": caller.merchant_id, "livemode": caller.livemode}))


async def get_endpoint_any(conn: Conn, endpoint_id: str) -> WebhookEndpoint | None:
    return _endpoint(await sql.one(conn, ENDPOINT, {"id": endpoint_id}))


async def endpoints_page(conn: Conn, caller: Caller, page: int, size: int) -> Page[WebhookEndpoint]:
    """The caller's endpoints that are not deleted, newest first."""
    q = sa.select(webhook_endpoints).where(ep.merchant_id == caller.merchant_id, ep.livemode == caller.livemode,
                                           ep.deleted_at.is_(None))
    return await paginate(conn, q, ep.created_at.desc(), page, size, WebhookEndpoint.from_row)


async def enabled_endpoints(conn: Conn, merchant_ids: Iterable[str]) -> list[WebhookEndpoint]:
    """The enabled, undeleted endpoints of these merchants."""
    q = sa.select(webhook_endpoints).where(ep.merchant_id.in_(merchant_ids), ep.enabled.is_(True),
                                           ep.deleted_at.is_(None))
    return [WebhookEndpoint(**r) for r in await sql.rows(conn, q)]


async def update_endpoint(conn: Conn, endpoint_id: str, values: Row) -> None:
    await sql.update(conn, webhook_endpoints, values, id=endpoint_id)


async def delete_endpoint(conn: Conn, endpoint_id: str, now: datetime) -> None:
    """Mark the endpoint deleted (its row stays, for its deliveries' log) and end its pending deliveries."""
    await sql.update(conn, webhook_endpoints, {"deleted_at": now, "enabled": False, "updated_at": now},
                     id=endpoint_id)
    await sql.update(conn, webhook_deliveries, {"status": "dead", "last_error": "endpoint deleted",
                                                "updated_at": now}, endpoint_id=endpoint_id, status="pending")


async def end_failing(conn: Conn, endpoint_id: str) -> None:
    await sql.update(conn, webhook_endpoints, {"failing_since": None}, id=endpoint_id)


async def start_failing(conn: Conn, endpoint_id: str, now: datetime) -> None:
    """Failing since `now`, unless it was already (another worker's results came first)."""
    await conn.execute(webhook_endpoints.update().where(ep.id == endpoint_id, ep.failing_since.is_(None))
                       .values(failing_since=now))


async def disable_failing(conn: Conn, endpoint_id: str, failing_before: datetime, reason: str,
                          now: datetime) -> bool:
    """Disable the endpoint if it is enabled and has been failing since `failing_before` or earlier; whether this
    did it."""
    disabled = await conn.execute(webhook_endpoints.update().where(
        ep.id == endpoint_id, ep.enabled.is_(True), ep.failing_since <= failing_before)
        .values(enabled=False, disabled_reason=reason, updated_at=now))
    return bool(disabled.rowcount)


# --- deliveries -----------------------------------------------------------------------------------
async def insert_deliveries(conn: Conn, deliveries: list[WebhookDelivery]) -> None:
    await conn.execute(webhook_deliveries.insert(), [row_of(d) for d in deliveries])


_later = webhook_deliveries.alias("later")
GIVEN_UP = (
    sa.select(dl.event_id, dl.event_type)
    .where(dl.endpoint_id == sa.bindparam("endpoint_id"), dl.status == "dead",
           ~sa.exists().where(_later.c.endpoint_id == dl.endpoint_id, _later.c.event_id == dl.event_id,
                              _later.c.status != "dead"))
    .group_by(dl.event_id, dl.event_type).order_by(sa.func.min(dl.created_at), dl.event_id))


async def given_up(conn: Conn, endpoint_id: str) -> list[tuple[str, str]]:
    """The events (id, type) whose every delivery to the endpoint is `dead`, oldest first."""
    return [(r["event_id"], r["event_type"]) for r in await sql.rows(conn, GIVEN_UP, {"endpoint_id": endpoint_id})]


async def deliveries_page(conn: Conn, endpoint_id: str, page: int, size: int) -> Page[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    q = sa.select(webhook_deliveries).where(dl.endpoint_id == endpoint_id)
    return await paginate(conn, q, dl.created_at.desc(), page, size, WebhookDelivery.from_row)


def _due(now: datetime) -> sa.Select[Any]:
    return sa.select(dl.id).where(dl.status == "pending", dl.next_attempt_at <= now)


async def any_due(conn: Conn, now: datetime) -> bool:
    return (await conn.execute(_due(now).limit(1))).first() is not None


async def claim_due(conn: Conn, now: datetime, until: datetime, limit: int) -> list[Row]:
    """Claim up to `limit` due deliveries, the longest due first, until `until`; each with what sending it takes:
    its endpoint's address, secrets and state, and the event's payload."""
    q = _due(now).order_by(dl.next_attempt_at).limit(limit)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids = [r[0] for r in (await conn.execute(q)).all()]
    if not ids:
        return []
    await conn.execute(webhook_deliveries.update().where(dl.id.in_(ids)).values(next_attempt_at=until))
    joined = (sa.select(webhook_deliveries, ep.url, ep.secret, ep.previous_secret,
                        ep.previous_secret_expires_at, ep.enabled, ep.failing_since, ev.payload)
              .join(webhook_endpoints, ep.id == dl.endpoint_id)
              .join(outbox_events, ev.id == dl.event_id)
              .where(dl.id.in_(ids)))
    return await sql.rows(conn, joined)


async def finish_attempt(conn: Conn, delivery_id: str, values: Row) -> None:
    """Record an attempt's outcome on a delivery that is still pending."""
    await sql.update(conn, webhook_deliveries, values, id=delivery_id, status="pending")


# --- events ---------------------------------------------------------------------------------------
EVENT = sa.select(outbox_events).where(ev.id == sa.bindparam("id"))


async def get_event(conn: Conn, event_id: str) -> Event | None:
    row = await sql.one(conn, EVENT, {"id": event_id})
    return None if row is None else Event(**row)


async def events_after(conn: Conn, caller: Caller, *, type: str | None, after_seq: int | None,
                       limit: int) -> list[Event]:
    """The caller's events (of one type, when given) after `after_seq`, in commit order."""
    q = sa.select(outbox_events).where(ev.merchant_id == caller.merchant_id, ev.livemode == caller.livemode)
    if type:
        q = q.where(ev.type == type)
    if after_seq is not None:
        q = q.where(ev.seq > after_seq)
    return [Event(**r) for r in await sql.rows(conn, q.order_by(ev.seq).limit(limit))]
