"""The reconciler: settles PG attempts and refunds whose answer was lost (timeouts, crashes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gyeol.core.clock import Clock
from gyeol.core.events import outbox
from gyeol.core.payments import repository as payments_repo
from gyeol.core.payments.records import Attempt
from gyeol.core.payments.service import PaymentService
from gyeol.core.refunds.service import RefundService
from gyeol.db.engine import Database
from gyeol.models import outbox_events, payment_attempts

# An attempt still `started` after this long was abandoned by a crashed process.
STALE_STARTED = timedelta(seconds=60)
# A PG outcome still unknown after this long needs a person: an `attempt.unresolved` event says so, once.
ALERT_AFTER = timedelta(hours=24)


class Reconciler:
    def __init__(self, payments: PaymentService, refunds: RefundService, db: Database, clock: Clock) -> None:
        self.payments = payments
        self.refunds = refunds
        self.db = db
        self.clock = clock

    async def run_once(self, older_than: float = 0.0, limit: int = 500, *, due_only: bool = False
                       ) -> dict[str, Any]:
        """`due_only` (the worker) honours each attempt's backoff; the CLI asks about every open attempt now."""
        now = self.clock.now()
        horizon = now + timedelta(seconds=3600 * 24 * 365) if older_than == 0 and not due_only else now
        async with self.db.read() as conn:
            attempts = await payments_repo.attempts_to_check(
                conn, horizon, now - max(STALE_STARTED, timedelta(seconds=older_than)), limit)
        resolved: list[dict[str, Any]] = []
        for a in attempts:
            if (now - a.created_at).total_seconds() < older_than:
                continue
            charge = await self.payments.resolve_attempt(a)
            resolved.append({"attemptId": a.id, "paymentId": a.payment_id, "status": charge.payment.status})
        alerts = await self._alert_unresolved(now)
        refunds = []
        for r in await self.refunds.pending(now - timedelta(seconds=older_than), limit):
            refunds.append({"refundId": r.id, "status": (await self.refunds.resolve(r)).status})
        return {"attempts": resolved, "refunds": refunds, "alerts": alerts}

    async def _alert_unresolved(self, now: datetime) -> int:
        q = (sa.select(payment_attempts).where(payment_attempts.c.status == "unknown",
                                               payment_attempts.c.created_at <= now - ALERT_AFTER)
             .where(~sa.exists().where(outbox_events.c.type == "attempt.unresolved",
                                       outbox_events.c.resource_id == payment_attempts.c.id)).limit(100))
        # The worker runs this every pass: look first, and take the write lock only when there is an alert to add.
        async with self.db.read() as conn:
            if (await conn.execute(q.limit(1))).first() is None:
                return 0
        added = 0
        async with self.db.tx() as conn:
            for a in [Attempt(**r) for r in (await conn.execute(q)).mappings()]:
                # Another reconciler may be adding this alert now: the outbox's unique key keeps one.
                added += await outbox.add_once(conn, outbox.Event(a.merchant_id, "attempt.unresolved", a, a.id), now)
        return added
