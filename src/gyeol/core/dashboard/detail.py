"""One payment's whole story for the dashboard: its attempts at the PG, its refunds, the events it raised and
their webhook deliveries, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.errors import not_found
from gyeol.core.events.records import Event
from gyeol.core.payments import repository as payments_repo
from gyeol.core.payments.records import Attempt, Payment
from gyeol.core.refunds.records import Refund
from gyeol.core.webhooks.records import WebhookDelivery
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import outbox_events, payment_attempts, refunds, settlements, webhook_deliveries


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the timeline."""

    at: datetime
    kind: str  # attempt | refund | event | delivery
    record: Any


@dataclass(frozen=True, slots=True)
class PaymentStory:
    payment: Payment
    attempts: list[Attempt]
    refunds: list[Refund]
    events: list[Event]
    deliveries: list[WebhookDelivery]
    fee: int  # the settlements booked for it: approvals less adjustments
    net: int

    @property
    def refundable(self) -> int:
        p = self.payment
        return p.captured_amount - p.refunded_amount - p.refunding_amount

    @property
    def timeline(self) -> list[Step]:
        steps = [Step(a.created_at, "attempt", a) for a in self.attempts]
        steps += [Step(r.created_at, "refund", r) for r in self.refunds]
        steps += [Step(e.created_at, "event", e) for e in self.events]
        steps += [Step(d.created_at, "delivery", d) for d in self.deliveries]
        return sorted(steps, key=lambda s: (s.at, ("attempt", "refund", "event", "delivery").index(s.kind)))


class PaymentStories:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def story(self, caller: Caller, payment_id: str) -> PaymentStory:
        """The caller's payment and all that happened to it; another merchant's or mode's is not found."""
        async with self.db.read() as conn:
            p = await payments_repo.get_any(conn, payment_id)
            if p is None or not caller.owns(p.merchant_id, p.livemode):
                raise not_found("payment", payment_id)
            attempts = [Attempt.from_row(r) for r in await sql.rows(conn, sa.select(payment_attempts).where(
                payment_attempts.c.payment_id == p.id).order_by(payment_attempts.c.created_at))]
            found = [Refund.from_row(r) for r in await sql.rows(conn, sa.select(refunds).where(
                refunds.c.payment_id == p.id).order_by(refunds.c.created_at))]
            about = [p.id, *(r.id for r in found)]
            events = [Event.from_row(r) for r in await sql.rows(conn, sa.select(outbox_events).where(
                outbox_events.c.resource_id.in_(about), outbox_events.c.merchant_id == p.merchant_id
            ).order_by(outbox_events.c.seq).limit(200))]
            deliveries = [WebhookDelivery.from_row(r) for r in await sql.rows(conn, sa.select(
                webhook_deliveries).where(webhook_deliveries.c.event_id.in_([e.id for e in events])).order_by(
                webhook_deliveries.c.created_at).limit(500))] if events else []
            booked = await sql.one(conn, sa.select(
                sa.func.coalesce(sa.func.sum(settlements.c.fee_amount), 0).label("fee"),
                sa.func.coalesce(sa.func.sum(settlements.c.net_amount), 0).label("net"),
            ).where(settlements.c.payment_id == p.id))
        assert booked is not None
        return PaymentStory(p, attempts, found, events, deliveries, int(booked["fee"]), int(booked["net"]))
