"""Reconciliation: a PG's settlement report for a range of sale days (read through its connector, or imported
from a CSV file before) matched one to one against Gyeol's own books (`books.py`), and the exceptions people
resolve.

A run is one per merchant, mode, PG, report source and range: running the range again replaces its result (its
counts and items) in one transaction, with its events, so nothing is counted twice. The report is read and
matched with no transaction open; only the result is written in one.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace
from datetime import date, timedelta

import structlog

from gyeol.connectors.base import ConnectorUnavailable, ReportRow
from gyeol.core.clock import KST, Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.events import outbox
from gyeol.core.pagination import Page
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.reconciliation import books, imports, matching
from gyeol.core.reconciliation import repository as repo
from gyeol.core.reconciliation.daily import DailyRuns
from gyeol.core.reconciliation.records import (
    EXCEPTIONS,
    UNKNOWN_TO_GYEOL,
    Imported,
    Item,
    Resolution,
    Run,
    counts_of,
)
from gyeol.core.staff import audit as staff_audit
from gyeol.core.staff.audit import AuditNote
from gyeol.core.states import RECONCILIATION_EXCEPTION, IllegalTransition
from gyeol.db.engine import Database
from gyeol.ids import new_id

log = structlog.get_logger(__name__)
MAX_DAYS = 31
ITEM_COLUMNS = tuple(f.name for f in fields(Item) if f.name != "resolution")
EVENTS_PER_STATEMENT = 500


def _item_id(run_id: str, type_: str, key: str, n: int) -> str:
    digest = hashlib.sha256(f"{run_id}|{type_}|{key}|{n}".encode()).hexdigest()
    return "rci_" + digest[:24]


class ReconciliationService:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.daily = DailyRuns(self)  # the worker's job

    def today(self) -> date:
        return self.clock.now().astimezone(KST).date()

    def has_report_api(self, pg: str) -> bool:
        return self.pgs.connectors.get(pg) is not None

    # --- runs ---------------------------------------------------------------------------------
    async def run(self, caller: Caller, start: date, end: date, *, pg: str | None = None,
                  source: str | None = None, audit: AuditNote | None = None) -> Run:
        """Reconcile the caller's sales from `start` to `end` (Korean days, both inclusive) at `pg` (by default
        the PG of the merchant's own account, else the default PG), against its report from `source`: `api` (the
        PG's, through its connector) or `import` (rows imported before; the default for a PG with no connector).
        A staff member's `audit` entry is written with the run's result, failed or completed."""
        if end < start or (end - start).days >= MAX_DAYS:
            raise DomainError("validation", "INVALID_RANGE",
                              f"A run covers 1 to {MAX_DAYS} days: 'from' on or before 'to'.")
        if pg is None:
            pg = (await self.pgs.for_key(caller.merchant_id, caller.livemode)).name
        source = source or ("api" if self.has_report_api(pg) else "import")
        if source == "api" and not self.has_report_api(pg):
            raise DomainError("validation", "NO_REPORT_API",
                              f"Gyeol reads no report from '{pg}': import it (POST /api/v1/reconciliation/imports) "
                              "and run with source 'import'.", details={"pg": pg})
        key = repo.RunKey(caller.merchant_id, caller.livemode, pg, source, start, end)
        try:
            report = await self._report(key)
        except ConnectorUnavailable as exc:
            run = await self._failed(key, str(exc)[:300], audit)
            raise DomainError("gateway", "PG_REPORT_UNAVAILABLE", f"The PG gave no settlement report ({exc}).",
                              details={"runId": run.id}) from None
        async with self.db.read() as conn:
            entries = await books.entries(conn, key.merchant_id, key.livemode, pg, start - timedelta(days=1),
                                          end + timedelta(days=1))
        return await self._write(key, matching.match(entries, report, start, end, self.today()), audit)

    async def _report(self, key: repo.RunKey) -> list[ReportRow]:
        if key.source == "api":
            return await self.pgs.report(key.merchant_id, key.pg, key.date_from, key.date_to)
        async with self.db.read() as conn:
            return await repo.imported(conn, key.merchant_id, key.livemode, key.pg, key.date_from, key.date_to)

    async def _write(self, key: repo.RunKey, outcome: matching.Outcome, audit: AuditNote | None = None) -> Run:
        now = self.clock.now()
        async with self.db.tx() as conn:
            run = await repo.claim_run(conn, key, new_id("rcn"), now)
            before = await repo.item_states(conn, run.id)
            found = self._items(run, outcome)
            await repo.replace_items(conn, run.id, [{c: getattr(i, c) for c in ITEM_COLUMNS} for i in found])
            run = await repo.finish_run(conn, run, now, status="completed", counts=counts_of(outcome.counts),
                                        gyeol_rows=outcome.gyeol_rows, report_rows=outcome.report_rows,
                                        expected_until=outcome.expected_until, failure=None)
            # The most serious exception (money moved with no record at Gyeol) raises its own event, once.
            events = [outbox.Event(key.merchant_id, "reconciliation.completed", run, run.id)] + [
                outbox.Event(key.merchant_id, "reconciliation.exception", i, i.id) for i in found
                if i.state == UNKNOWN_TO_GYEOL and before.get(i.id) != UNKNOWN_TO_GYEOL]
            for start in range(0, len(events), EVENTS_PER_STATEMENT):
                await outbox.add_all(conn, events[start:start + EVENTS_PER_STATEMENT], now)
            await staff_audit.write(conn, audit, now, target=run.id, status=run.status)
        return run

    def _items(self, run: Run, outcome: matching.Outcome) -> list[Item]:
        out: list[Item] = []
        seen: set[str] = set()
        for f in outcome.found:
            n = 1
            while (item_id := _item_id(run.id, f.type, f.key, n)) in seen:
                n += 1  # one transaction id twice in Gyeol's books: each row is an item of its own
            seen.add(item_id)
            g, r = f.gyeol, f.pg
            out.append(Item(
                id=item_id, run_id=run.id, merchant_id=run.merchant_id, livemode=run.livemode, state=f.state,
                type=f.type, transaction_id=f.key[:200], payment_id=g.payment_id if g else None,
                settlement_id=g.settlement_id if g else None,
                order_id=(g.order_id if g else r.order_id if r else "")[:64] or None,
                sold_date=g.sold_date if g else r.sold_date if r else run.date_from,
                gyeol_amount=g.amount if g else None, gyeol_fee=g.fee if g else None,
                gyeol_currency=g.currency if g else None, gyeol_payout_date=g.payout_date if g else None,
                pg_amount=r.amount if r else None, pg_fee=r.fee if r else None, pg_currency=r.currency if r else None,
                pg_payout_date=r.payout_date if r else None, created_at=self.clock.now()))
        return out

    async def _failed(self, key: repo.RunKey, failure: str, audit: AuditNote | None = None) -> Run:
        """A range whose report could not be read: the run says so, and keeps what the run before found."""
        log.warning("reconciliation_report_unavailable", pg=key.pg, failure=failure)
        now = self.clock.now()
        async with self.db.tx() as conn:
            run = await repo.claim_run(conn, key, new_id("rcn"), now)
            run = await repo.finish_run(conn, run, now, status="failed", failure=failure)
            await staff_audit.write(conn, audit, now, target=run.id, status=run.status)
            return run

    async def list_runs(self, caller: Caller, page: int, size: int, *, pg: str | None = None,
                        status: str | None = None) -> Page[Run]:
        async with self.db.read() as conn:
            return await repo.list_runs(conn, caller, page, size, pg=pg, status=status)

    async def get_run(self, caller: Caller, run_id: str) -> Run:
        async with self.db.read() as conn:
            run = await repo.get_run(conn, run_id)
        if run is None or not caller.owns(run.merchant_id, run.livemode):
            raise not_found("run", run_id)
        return run

    # --- exceptions ---------------------------------------------------------------------------
    async def items(self, caller: Caller, page: int, size: int, *, run_id: str | None = None,
                    state: str | None = None, status: str | None = "open") -> Page[Item]:
        """The caller's exceptions (`open` ones by default), or the rows of one state (`expected` included)."""
        states: tuple[str, ...] = (state,) if state else EXCEPTIONS
        async with self.db.read() as conn:
            return await repo.list_items(conn, caller, page, size, states=states, run_id=run_id,
                                         status=None if state and state not in EXCEPTIONS else status)

    async def resolve(self, caller: Caller, item_id: str, note: str, resolved_by: str | None = None,
                      audit: AuditNote | None = None) -> Item:
        """Close an exception with a note: who, when and why, kept for good (a later run that finds the row again
        in the same state shows it resolved)."""
        now = self.clock.now()
        who = f"user:{caller.user_id}" if caller.user_id else caller.key_id or "unknown"
        async with self.db.tx() as conn:
            item = await repo.get_item(conn, item_id, lock=True)
            if item is None or not caller.owns(item.merchant_id, item.livemode):
                raise not_found("exception", item_id)
            if item.status is None:
                raise DomainError("conflict", "NOT_AN_EXCEPTION",
                                  f"A row that is '{item.state}' is no exception to resolve.",
                                  details={"state": item.state})
            RECONCILIATION_EXCEPTION.next(item.status, "resolve")
            resolution = Resolution(new_id("rcr"), item.id, item.merchant_id, item.livemode, item.state, note,
                                    resolved_by or who, who, now)
            await repo.add_resolution(conn, resolution, lambda: IllegalTransition(
                RECONCILIATION_EXCEPTION.resource, "resolved", "resolve"))
            await staff_audit.write(conn, audit, now, target=item.id, run=item.run_id, state=item.state)
        return replace(item, resolution=resolution)

    # --- imported reports ---------------------------------------------------------------------
    async def import_report(self, caller: Caller, pg: str, text: str) -> Imported:
        """A PG's report from a CSV file (`imports.py`): each row replaces the one of its transaction imported
        before. A file with a bad row changes nothing."""
        if not imports.PG_NAME.match(pg):
            raise DomainError("validation", "INVALID_PG", "pg is 1 to 40 of a-z, 0-9, '_' and '-'.")
        rows = imports.parse(text)
        import_id, now = new_id("rim"), self.clock.now()
        stored = [{"id": new_id("rpr"), "import_id": import_id, "merchant_id": caller.merchant_id,
                   "livemode": caller.livemode, "pg": pg, "type": r.type, "transaction_id": r.transaction_id,
                   "order_id": r.order_id, "amount": r.amount, "fee": r.fee, "vat": r.vat, "net": r.net,
                   "currency": r.currency, "sold_date": r.sold_date, "payout_date": r.payout_date, "created_at": now}
                  for r in rows]
        async with self.db.tx() as conn:
            await repo.store_report(conn, stored)
        days = [r.sold_date for r in rows]
        return Imported(import_id, caller.livemode, pg, len(rows), min(days), max(days))

