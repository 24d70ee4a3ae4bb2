"""The worker's daily reconciliation: yesterday's sales, in Korean days, for each merchant, mode and PG that booked
money that day or was reconciled through its PG's report before; and, again, each run with rows still `expected`
whose payout day has come (the PG should have reported them by now).

Once a day per process, under a lease so that processes take turns; a range run already is not run again (a run
is idempotent for its range anyway). When a PG gave no report, the day is tried again after RETRY_AFTER.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from gyeol.core import leases
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.reconciliation import books
from gyeol.core.reconciliation import repository as repo
from gyeol.ids import new_id

if TYPE_CHECKING:
    from gyeol.core.reconciliation.service import ReconciliationService

log = structlog.get_logger(__name__)
LEASE = "reconciliation_daily"
LEASE_TTL = timedelta(minutes=30)
RETRY_AFTER = timedelta(minutes=10)


def _caller(merchant_id: str, livemode: bool) -> Caller:
    return Caller(merchant_id, "live" if livemode else "test")


class DailyRuns:
    def __init__(self, service: ReconciliationService) -> None:
        self.service = service
        self.holder = new_id("recon")
        self.done: date | None = None  # the day (today, in Korea) whose runs are made
        self.wait_until: datetime | None = None

    async def run_once(self) -> dict[str, Any]:
        svc = self.service
        now, today = svc.clock.now(), svc.today()
        if self.done == today or (self.wait_until is not None and now < self.wait_until):
            return {"runs": []}
        if not await leases.acquire(svc.db, LEASE, self.holder, now, LEASE_TTL):
            return {"runs": []}  # another process is at it; the next pass finds its runs made
        try:
            made, failed = await self._runs(today)
        finally:
            await leases.release(svc.db, LEASE, self.holder)
        if failed:
            self.wait_until = now + RETRY_AFTER
        else:
            self.done, self.wait_until = today, None
        return {"runs": made, "failed": failed}

    async def _runs(self, today: date) -> tuple[list[str], int]:
        svc = self.service
        yesterday = today - timedelta(days=1)
        async with svc.db.read() as conn:
            targets = await books.pgs_booked(conn, yesterday) | await repo.reconciled_pgs(conn)
            due = await repo.runs_to_redo(conn, today)
        todo: list[tuple[Caller, date, date, str, str]] = []
        for merchant_id, livemode, pg in sorted(targets):
            if not svc.has_report_api(pg):
                continue  # a PG whose report is imported: a person imports it and runs it
            async with svc.db.read() as conn:
                run = await repo.find_run(conn, repo.RunKey(merchant_id, livemode, pg, "api", yesterday, yesterday))
            if run is None or run.status != "completed":
                todo.append((_caller(merchant_id, livemode), yesterday, yesterday, pg, "api"))
        todo += [(_caller(r.merchant_id, r.livemode), r.date_from, r.date_to, r.pg, r.source) for r in due
                 if r.source == "import" or svc.has_report_api(r.pg)]
        made, failed = [], 0
        for caller, start, end, pg, source in todo:
            try:
                made.append((await svc.run(caller, start, end, pg=pg, source=source)).id)
            except DomainError as err:
                failed += 1
                log.warning("daily_reconciliation_failed", pg=pg, code=err.code)
        return made, failed
