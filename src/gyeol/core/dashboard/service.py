"""What the dashboard asks of the core beyond the resources' own services: its reads."""

from __future__ import annotations

from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.dashboard.detail import PaymentStories
from gyeol.core.dashboard.payments import PaymentSearch
from gyeol.core.dashboard.settlements import SettlementPages
from gyeol.core.dashboard.totals import DashboardTotals
from gyeol.core.errors import not_found
from gyeol.core.events.records import Event
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
        self.settlements = SettlementPages(db, clock)

    async def delivery(self, caller: Caller, endpoint_id: str, delivery_id: str) -> tuple[WebhookDelivery, Event]:
        """One delivery of the caller's endpoint, with the event it carries (the request's body)."""
        async with self.db.read() as conn:
            row = await sql.one(conn, dl.select().where(dl.c.id == delivery_id, dl.c.endpoint_id == endpoint_id))
            event = await webhooks_repo.get_event(conn, row["event_id"]) if row else None
        if row is None or event is None or not caller.owns(row["merchant_id"], row["livemode"]):
            raise not_found("webhook_delivery", delivery_id)
        return WebhookDelivery.from_row(row), event
