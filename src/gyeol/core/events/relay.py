"""The outbox relay: takes events in commit order, publishes them to the broker, and fans them out to webhook
deliveries, marking each published in the same transaction as its deliveries.

One relay runs at a time (a lease), which is what keeps the broker's order. A broker that is down stops the pass
at the first event it refuses; that event and all later ones stay in the outbox until it is back. An event is
marked only after the broker took it, so a crash in between publishes it again: JetStream drops the duplicate
by its `Nats-Msg-Id`; consumers of other brokers deduplicate by the event id header.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from gyeol.brokers import Broker, BrokerUnavailable
from gyeol.core import leases
from gyeol.core.clock import Clock
from gyeol.core.events.records import Event
from gyeol.core.webhooks.service import fan_out
from gyeol.db.engine import Database
from gyeol.models import outbox_events

log = structlog.get_logger(__name__)
LEASE = "outbox_relay"


class OutboxRelay:
    def __init__(self, db: Database, clock: Clock, broker: Broker | None, *, batch: int = 500,
                 lease: timedelta = timedelta(seconds=30)) -> None:
        self.db = db
        self.clock = clock
        self.broker = broker
        self.batch = batch
        self.lease = lease
        self.holder = "relay-" + secrets.token_hex(6)

    async def run_once(self, max_batches: int = 20) -> dict[str, Any]:
        # Every worker runs this every pass: an idle outbox costs one read, not the lease's write transactions.
        async with self.db.read() as conn:
            waiting = sa.select(outbox_events.c.seq).where(outbox_events.c.published_at.is_(None)).limit(1)
            if (await conn.execute(waiting)).first() is None:
                return {"published": 0, "blocked": False}
        if not await leases.acquire(self.db, LEASE, self.holder, self.clock.now(), self.lease):
            return {"published": 0, "skipped": "another relay holds the lease"}
        published, blocked = 0, False
        try:
            for _ in range(max_batches):
                async with self.db.read() as conn:
                    q = (sa.select(outbox_events).where(outbox_events.c.published_at.is_(None))
                         .order_by(outbox_events.c.seq).limit(self.batch))
                    events = [Event(**r) for r in (await conn.execute(q)).mappings()]
                if not events:
                    break
                done: list[Event] = []
                for event in events:
                    if self.broker is not None:
                        try:
                            await self.broker.publish(event.payload)
                        except BrokerUnavailable as exc:
                            log.warning("broker_unavailable", error=str(exc), event_id=event.id)
                            blocked = True
                            break
                    done.append(event)
                if done:
                    now = self.clock.now()
                    async with self.db.tx() as conn:
                        # Conditional, so two relays that both believed they held the lease cannot fan out twice.
                        res = await conn.execute(outbox_events.update().where(
                            outbox_events.c.id.in_([e.id for e in done]), outbox_events.c.published_at.is_(None))
                            .values(published_at=now))
                        if res.rowcount != len(done):
                            raise RuntimeError("outbox rows were published by another relay; retrying")
                        await fan_out(conn, done, now)
                    published += len(done)
                if blocked or len(events) < self.batch:
                    break
                await leases.acquire(self.db, LEASE, self.holder, self.clock.now(), self.lease)
        finally:
            await leases.release(self.db, LEASE, self.holder)
        return {"published": published, "blocked": blocked}
