"""What the dashboard asks of the core beyond the resources' own services: its reads, and resending an endpoint's
failed webhook deliveries."""

from __future__ import annotations

from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.dashboard.detail import PaymentStories
from gyeol.core.dashboard.payments import PaymentSearch
from gyeol.core.dashboard.totals import DashboardTotals
from gyeol.core.errors import not_found
from gyeol.core.events.records import Event
from gyeol.core.staff import audit
from gyeol.core.webhooks import repository as webhooks_repo
from gyeol.core.webhooks.records import WebhookDelivery
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import webhook_deliveries as dl


class Dashboard:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.search = PaymentSearch(db)
        self.totals = DashboardTotals(db, clock)
        self.stories = PaymentStories(db)

    async def resend_failed(self, caller: Caller, endpoint_id: str, *, note: audit.AuditNote | None = None) -> int:
        """Every delivery to the endpoint that gave up (`dead`) is due again now, its attempts counted on; how many
        were. `note`: the staff member's, recorded with them."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            if await webhooks_repo.get_endpoint(conn, caller, endpoint_id, lock=True) is None:
                raise not_found("webhook_endpoint", endpoint_id)
            res = await conn.execute(dl.update().where(dl.c.endpoint_id == endpoint_id, dl.c.status == "dead")
                                     .values(status="pending", next_attempt_at=now, updated_at=now))
            count = int(res.rowcount or 0)
            await audit.write(conn, note, now, count=count)
        return count

    async def delivery(self, caller: Caller, endpoint_id: str, delivery_id: str) -> tuple[WebhookDelivery, Event]:
        """One delivery of the caller's endpoint, with the event it carries (the request's body)."""
        async with self.db.read() as conn:
            row = await sql.one(conn, dl.select().where(dl.c.id == delivery_id, dl.c.endpoint_id == endpoint_id))
            event = await webhooks_repo.get_event(conn, row["event_id"]) if row else None
        if row is None or event is None or not caller.owns(row["merchant_id"], row["livemode"]):
            raise not_found("webhook_delivery", delivery_id)
        return WebhookDelivery.from_row(row), event
