"""Merchants' webhook endpoints, their delivery log, the event list, redelivery, and the fan-out of events to
deliveries."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.events.records import Event
from gyeol.core.events.types import EVENT_TYPES, subscribed
from gyeol.core.pagination import Page
from gyeol.core.staff import audit
from gyeol.core.webhooks import repository as repo
from gyeol.core.webhooks.records import WebhookDelivery, WebhookEndpoint, WithSecret
from gyeol.core.webhooks.ssrf import Resolver, check_url, system_resolver
from gyeol.crypto import DataCipher
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id

OLD_SECRET_GRACE = timedelta(hours=24)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - EVENT_TYPES - {"*"})
    if not events or unknown:
        raise DomainError("validation", "INVALID_EVENTS", "events lists known event types, or '*'.",
                          details={"unknown": unknown, "known": sorted(EVENT_TYPES)})
    return sorted(set(events))


def new_delivery(e: WebhookEndpoint, event_id: str, event_type: str, now: datetime) -> WebhookDelivery:
    return WebhookDelivery(id=new_id("dlv"), merchant_id=e.merchant_id, livemode=e.livemode, endpoint_id=e.id,
                           event_id=event_id, event_type=event_type, status="pending", attempts=0, next_attempt_at=now,
                           last_status_code=None, last_error=None, last_response_excerpt=None, delivered_at=None,
                           created_at=now, updated_at=now)


async def fan_out(conn: Conn, events: Sequence[Event], now: datetime) -> list[WebhookDelivery]:
    """Deliveries for every enabled endpoint of the event's merchant and mode subscribed to it (the relay, and
    redelivery to all)."""
    merchants = {e.merchant_id for e in events}
    if not merchants:
        return []
    endpoints = await repo.enabled_endpoints(conn, merchants)
    deliveries = [new_delivery(ep, ev.id, ev.type, now) for ev in events for ep in endpoints
                  if (ep.merchant_id, ep.livemode) == (ev.merchant_id, ev.livemode) and subscribed(ep.events, ev.type)]
    if deliveries:
        await repo.insert_deliveries(conn, deliveries)
    return deliveries


class WebhookService:
    def __init__(self, db: Database, clock: Clock, cipher: DataCipher, resolver: Resolver = system_resolver
                 ) -> None:
        self.db = db
        self.clock = clock
        self.cipher = cipher
        self.resolver = resolver

    async def create(self, caller: Caller, url: str, events: list[str], description: str | None, *,
                     note: audit.AuditNote | None = None) -> WithSecret:
        """A new endpoint, its secret returned in clear once; `note`: the staff member's, recorded with it (here and
        in each change below)."""
        events = check_events(events)
        await check_url(url, caller.livemode, self.resolver)
        now = self.clock.now()
        secret = new_secret()
        sealed = self.cipher.encrypt(secret)
        assert sealed is not None
        e = WebhookEndpoint(
            id=new_id("we"), merchant_id=caller.merchant_id, livemode=caller.livemode, url=url, events=events,
            description=description, secret=sealed, previous_secret=None,
            previous_secret_expires_at=None, enabled=True, failing_since=None, disabled_reason=None, deleted_at=None,
            created_at=now, updated_at=now)
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            await repo.insert_endpoint(conn, e)
            await audit.write(conn, note, now, target=e.id, url=url)
        return WithSecret(e, secret)

    async def _get(self, conn: Conn, caller: Caller, endpoint_id: str, lock: bool = False) -> WebhookEndpoint:
        row = await repo.get_endpoint(conn, caller, endpoint_id, lock=lock)
        if row is None:
            raise not_found("webhook_endpoint", endpoint_id)
        return row

    async def get(self, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
        async with self.db.read() as conn:
            return await self._get(conn, caller, endpoint_id)

    async def list_page(self, caller: Caller, page: int, size: int) -> Page[WebhookEndpoint]:
        async with self.db.read() as conn:
            return await repo.endpoints_page(conn, caller, page, size)

    async def update(self, caller: Caller, endpoint_id: str, *, url: str | None, events: list[str] | None,
                     enabled: bool | None, description: str | None,
                     note: audit.AuditNote | None = None) -> WebhookEndpoint:
        changes: dict[str, Any] = {}
        if events is not None:
            changes["events"] = check_events(events)
        if url is not None:
            await self.get(caller, endpoint_id)  # another mode's endpoint is 404, whatever the address
            await check_url(url, caller.livemode, self.resolver)
            changes["url"] = url
        if description is not None:
            changes["description"] = description
        if enabled is not None:
            changes["enabled"] = enabled
            if enabled:
                changes.update(failing_since=None, disabled_reason=None)
            else:
                changes["disabled_reason"] = "disabled_by_merchant"
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            row = await self._get(conn, caller, endpoint_id, lock=True)
            changes["updated_at"] = now
            await repo.update_endpoint(conn, endpoint_id, changes)
            e = replace(row, **changes)
            await audit.write(conn, note, now, target=e.id, url=e.url, events=",".join(e.events))
        return e

    async def delete(self, caller: Caller, endpoint_id: str) -> None:
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            await self._get(conn, caller, endpoint_id, lock=True)
            await repo.delete_endpoint(conn, endpoint_id, now)

    async def rotate_secret(self, caller: Caller, endpoint_id: str, *,
                            note: audit.AuditNote | None = None) -> WithSecret:
        """A new secret; the old one keeps signing beside it for 24 hours, so receivers can switch calmly."""
        now = self.clock.now()
        secret = new_secret()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            row = await self._get(conn, caller, endpoint_id, lock=True)
            changes: dict[str, Any] = {"secret": self.cipher.encrypt(secret), "previous_secret": row.secret,
                                       "previous_secret_expires_at": now + OLD_SECRET_GRACE, "updated_at": now}
            await repo.update_endpoint(conn, endpoint_id, changes)
            await audit.write(conn, note, now, target=row.id)
        return WithSecret(replace(row, **changes), secret)

    async def deliveries(self, caller: Caller, endpoint_id: str, page: int, size: int) -> Page[WebhookDelivery]:
        async with self.db.read() as conn:
            await self._get(conn, caller, endpoint_id)
            return await repo.deliveries_page(conn, endpoint_id, page, size)

    # --- events -------------------------------------------------------------------------------
    async def _event(self, conn: Conn, caller: Caller, event_id: str) -> Event:
        event = await repo.get_event(conn, event_id)
        if event is None or not caller.owns(event.merchant_id, event.livemode):
            raise not_found("event", event_id)
        return event

    async def event(self, caller: Caller, event_id: str) -> Event:
        async with self.db.read() as conn:
            return await self._event(conn, caller, event_id)

    async def events(self, caller: Caller, type: str | None, after: str | None,
                     size: int) -> tuple[list[Event], bool]:
        """Oldest first from the cursor: `after` is the last event id the caller has seen. Up to `size` events,
        and whether more follow."""
        async with self.db.read() as conn:
            after_seq = (await self._event(conn, caller, after)).seq if after else None
            found = await repo.events_after(conn, caller, type=type, after_seq=after_seq, limit=size + 1)
        return found[:size], len(found) > size

    async def redeliver_given_up(self, caller: Caller, endpoint_id: str, *,
                                 note: audit.AuditNote | None = None) -> list[WebhookDelivery]:
        """A new delivery to the endpoint, as `redeliver` makes one, of each event whose every delivery to it gave
        up (`dead`), oldest first. The dead ones stay as they were, in the log; an event delivered since, or still
        being delivered, is not sent again, so asking twice sends each once."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            e = await self._get(conn, caller, endpoint_id, lock=True)  # one such request at a time per endpoint
            deliveries = [new_delivery(e, event_id, event_type, now)
                          for event_id, event_type in await repo.given_up(conn, e.id)]
            if deliveries:
                await repo.insert_deliveries(conn, deliveries)
                await audit.write(conn, note, now, target=e.id, count=len(deliveries))
        return deliveries

    async def redeliver(self, caller: Caller, event_id: str, endpoint_id: str | None, *,
                        note: audit.AuditNote | None = None) -> list[WebhookDelivery]:
        """New deliveries of an event: to one endpoint, or to every one subscribed to it."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            event = await self._event(conn, caller, event_id)
            if endpoint_id is None:
                deliveries = await fan_out(conn, [event], now)
            else:
                deliveries = [new_delivery(await self._get(conn, caller, endpoint_id), event.id, event.type, now)]
                await repo.insert_deliveries(conn, deliveries)
            await audit.write(conn, note, now, event=event.id, deliveries=",".join(d.id for d in deliveries))
        return deliveries
