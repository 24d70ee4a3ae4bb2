"""The reconciler: settles PG attempts and refunds whose answer was lost (timeouts, crashes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gyeol.core.clock import Clock
from gyeol.core.payments import repository as payments_repo
from gyeol.core.payments.service import PaymentService
from gyeol.core.refunds.service import RefundService
from gyeol.db.engine import Database

# An attempt still `started` after this long was abandoned by a crashed process.
STALE_STARTED = timedelta(seconds=60)


class Reconciler:
    def __init__(self, payments: PaymentService, refunds: RefundService, db: Database, clock: Clock) -> None:
        self.payments = payments
        self.refunds = refunds
        self.db = db
        self.clock = clock

    async def run_once(self, older_than: float = 0.0, limit: int = 500) -> dict[str, Any]:
        now = self.clock.now()
        horizon = now + timedelta(seconds=3600 * 24 * 365) if older_than == 0 else now
        async with self.db.read() as conn:
            attempts = await payments_repo.attempts_to_check(
                conn, horizon, now - max(STALE_STARTED, timedelta(seconds=older_than)), limit)
        resolved: list[dict[str, Any]] = []
        for a in attempts:
            if (now - a["created_at"]).total_seconds() < older_than:
                continue
            view = await self.payments.resolve_attempt(a)
            resolved.append({"attemptId": a["id"], "paymentId": a["payment_id"], "status": view["status"]})
        refunds = []
        for r in await self.refunds.pending(now - timedelta(seconds=older_than), limit):
            view = await self.refunds.resolve(r)
            refunds.append({"refundId": r["id"], "status": view["status"]})
        return {"attempts": resolved, "refunds": refunds}
